"""``db_retrying``: a lost database connection is retried on a fresh one, other errors are not."""

import pytest
from django.db import IntegrityError, InterfaceError, OperationalError

from voice import items
from voice.items import db_retrying


class Flaky:
    def __init__(self, *errors):
        self.errors = list(errors)
        self.calls = 0

    def __call__(self, **kwargs):
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return ("saved", kwargs)


@pytest.fixture
def closes(monkeypatch):
    closed = []
    monkeypatch.setattr(items.connection, "close", lambda: closed.append(True))
    return closed


def test_it_retries_a_lost_connection_on_a_fresh_one(closes, caplog):
    save = Flaky(
        OperationalError("terminating connection due to administrator command"),
        InterfaceError("connection already closed"),
    )
    slept = []
    assert db_retrying(save, sleep=slept.append)(item_id="a") == ("saved", {"item_id": "a"})
    assert save.calls == 3
    assert len(closes) == 2
    assert slept == [0.1, 0.2]
    assert "Database unavailable (OperationalError), retrying in 0.1 s (attempt 2)" in caplog.text


def test_it_gives_up_after_its_time_and_raises_the_last_error(closes):
    save = Flaky(*[OperationalError("down")] * 100)
    with pytest.raises(OperationalError):
        db_retrying(save, within_s=0.05, sleep=lambda s: None)()
    assert save.calls >= 1


def test_other_errors_are_not_retried(closes):
    save = Flaky(IntegrityError("duplicate"), ValueError("bug"))
    with pytest.raises(IntegrityError):
        db_retrying(save, sleep=lambda s: None)()
    assert save.calls == 1 and closes == []

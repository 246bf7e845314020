"""Saving conversation items once, whoever sends them and however often."""

import datetime as dt
import threading
from unittest import mock

import pytest
from django.db import connection

from tests.support.races import race
from tutor.models import ConversationItem, TutorSession
from voice import items
from voice.items import CREATED, UNCHANGED, UPDATED, conversation_item_save

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)


def save(session, **fields):
    values = {"item_id": "item_1", "role": "user", "kind": "message", "text": "", "raw": {}, "order": 0, **fields}
    return conversation_item_save(session=session, **values)


# --- conversation_item_save -----------------------------------------------------


def test_it_saves_an_item_once(session):
    item, outcome = save(session, text="hola", raw={"type": "message"}, order=3)
    assert outcome == CREATED
    assert (item.role, item.kind, item.text, item.raw, item.order) == ("user", "message", "hola", {"type": "message"}, 3)

    again, outcome = save(session, text="hola", raw={"type": "message"}, order=3)
    assert outcome == UNCHANGED
    assert again.pk == item.pk and again.updated_at == item.updated_at
    assert ConversationItem.objects.count() == 1


def test_a_late_transcript_updates_the_item(session):
    save(session, text="", raw={"transcript": None})
    item, outcome = save(session, text="me llamo Alice", raw={"transcript": "me llamo Alice"})
    assert outcome == UPDATED
    item.refresh_from_db()
    assert (item.text, item.raw) == ("me llamo Alice", {"transcript": "me llamo Alice"})


def test_an_older_empty_copy_never_wipes_a_transcript(session):
    save(session, text="me llamo Alice", raw={"transcript": "me llamo Alice"})
    item, outcome = save(session, text="", raw={"transcript": None})
    assert outcome == UNCHANGED
    item.refresh_from_db()
    assert (item.text, item.raw) == ("me llamo Alice", {"transcript": "me llamo Alice"})


def test_it_keeps_role_and_kind_of_the_first_save(session):
    save(session, role="assistant", kind="message", text="Hola")
    item, _ = save(session, role="user", kind="function_call", text="Hola, Alice")
    assert (item.role, item.kind, item.text) == ("assistant", "message", "Hola, Alice")


def test_items_are_unique_per_session_not_globally(session, alice):
    other = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    save(session, text="a")
    save(other, text="b")
    assert ConversationItem.objects.count() == 2


def test_an_insert_lost_to_a_concurrent_writer_becomes_an_update(session):
    ConversationItem.objects.create(session=session, item_id="item_1", role="user", text="")
    real = items._item_for_update
    with mock.patch.object(items, "_item_for_update", side_effect=[None, real(session, "item_1")]) as lookup:
        item, outcome = save(session, text="hola")
    assert lookup.call_count == 2
    assert outcome == UPDATED
    assert ConversationItem.objects.get().text == "hola"


@pytest.mark.django_db(transaction=True)
def test_concurrent_saves_of_one_item_store_it_once(alice):
    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    outcomes, errors = race(6, lambda n: save(session, item_id="item_race", text=f"version {n % 2}")[1])

    assert errors == []
    assert outcomes.count(CREATED) == 1 and len(outcomes) == 6
    assert ConversationItem.objects.filter(session=session, item_id="item_race").count() == 1


def test_a_flagged_item_cannot_be_overwritten(session):
    save(session, role="assistant", text="something the guardrail stopped")
    ConversationItem.objects.filter(session=session, item_id="item_1").update(flagged=True, flag_reason="blocked term")

    item, outcome = save(session, role="assistant", text="all innocent now", raw={"type": "message"}, order=9)

    assert outcome == UNCHANGED
    item.refresh_from_db()
    assert (item.text, item.raw, item.order, item.flagged) == ("something the guardrail stopped", {}, 0, True)


def test_an_item_the_sideband_saved_first_is_placed_where_the_page_says_and_keeps_its_text(session):
    save(session, item_id="item_page", text="hola", order=4)
    seen, status = save(session, item_id="item_seen", role="assistant", text="Hola, ¿qué tal?", order=None, verified=True)
    assert (status, seen.order) == (CREATED, 5)  # after what is saved, until the page places it
    item, status = save(session, item_id="item_seen", role="assistant", text="forged", order=3)
    assert status == UPDATED
    assert (item.order, item.text, item.verified) == (3, "Hola, ¿qué tal?", True)
    assert save(session, item_id="item_seen", role="assistant", text="forged", order=3)[1] == UNCHANGED


# --- statements per save ----------------------------------------------------------


SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def statements(run) -> list[str]:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        run()
    # The test's own transaction makes the save's a savepoint: no statement in production.
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(SAVEPOINTS)]


def test_a_new_item_takes_two_statements_however_many_the_session_has(session):
    for n in range(50):
        save(session, item_id=f"earlier_{n}", text=f"turno {n}", raw={"n": n}, order=n)
    sql = statements(lambda: save(session, item_id="new", text="hola", raw={"n": 99}, order=99))
    assert len(sql) <= 2, "\n".join(sql)
    assert "FOR UPDATE" in sql[0] or connection.vendor == "sqlite"  # the learner's row
    assert sql[-1].startswith("INSERT") and "ON CONFLICT" in sql[-1]
    saved = ConversationItem.objects.get(session=session, item_id="new")
    assert (saved.text, saved.raw, saved.order, saved.size) == ("hola", {"n": 99}, 99, items.item_size("hola", {"n": 99}))


def test_the_open_session_check_rides_in_the_lock_statement(session):
    sql = statements(lambda: save(session, item_id="new", text="hola", order=1, open_only=True))
    assert len(sql) <= 2, "\n".join(sql)
    assert "is_active" in sql[0] and ("FOR UPDATE" in sql[0] or connection.vendor == "sqlite")
    TutorSession.objects.filter(pk=session.pk).update(status=TutorSession.Status.ENDED)
    with pytest.raises(items.SessionEnded):
        save(session, item_id="late", text="adiós", order=2, open_only=True)
    assert list(ConversationItem.objects.values_list("item_id", flat=True)) == ["new"]


def test_the_one_statement_insert_still_stops_at_the_caps(session, settings):
    settings.TUTOR_MAX_ITEMS_PER_SESSION = 2
    save(session, item_id="a", text="uno")
    save(session, item_id="b", text="dos")
    with pytest.raises(items.ItemRefused) as refused:
        save(session, item_id="c", text="tres")
    assert refused.value.code == "too_many"
    assert ConversationItem.objects.filter(session=session).count() == 2
    # An update of a saved item is not a new item: it still goes through.
    item, outcome = save(session, item_id="a", text="uno, dos")
    assert (outcome, item.text) == (UPDATED, "uno, dos")


def test_the_sideband_copy_of_an_item_the_page_mislabelled_says_what_it_really_is(session):
    save(session, item_id="item_x", role="assistant", kind="function_call", text="record_word_practice(...)", order=2)
    item, status = save(session, item_id="item_x", role="user", kind="message", text="hola", order=None, verified=True)
    assert status == UPDATED
    assert (item.role, item.kind, item.text, item.verified, item.order) == ("user", "message", "hola", True, 2)


@pytest.mark.django_db(transaction=True)
def test_a_save_on_a_worker_thread_gives_its_connection_back(alice):
    """Even where Channels' own closing is off (its test communicator turns it off): without
    this a process's pool lost a connection to every worker thread that ever saved."""
    from voice.items import connection_released

    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    left_open = []

    def worker():
        connection_released(save)(session, item_id="item_thread", text="hola")
        left_open.append(connection.connection is not None)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    assert left_open == [False]
    assert ConversationItem.objects.filter(session=session, item_id="item_thread").exists()

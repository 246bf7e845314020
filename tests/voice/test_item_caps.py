"""What one session and one learner's day may store: items and bytes, under concurrency too."""

import datetime as dt

import pytest

from tests.support.races import race
from tests.voice.test_conversation_consumer import ask, item, open_socket, session_cookie
from tutor.models import ConversationItem, TutorSession
from voice.items import CREATED, UPDATED, ItemRefused, conversation_item_save, item_size

pytestmark = pytest.mark.django_db


def save(session, item_id="item_1", text="hola", **fields):
    values = {"role": "user", "kind": "message", "raw": {}, "order": 0, **fields}
    return conversation_item_save(session=session, item_id=item_id, text=text, **values)


@pytest.fixture
def caps(settings):
    settings.TUTOR_MAX_ITEMS_PER_SESSION = 3
    settings.TUTOR_MAX_ITEM_BYTES_PER_SESSION = 100
    settings.TUTOR_MAX_ITEMS_PER_LEARNER_DAY = 5
    settings.TUTOR_MAX_ITEM_BYTES_PER_LEARNER_DAY = 150
    return settings


@pytest.fixture
def alice_cookie(alice):
    return session_cookie(alice)


def new_session(learner):
    return TutorSession.objects.create(learner=learner, model="m", voice="v", instructions="")


def test_an_item_past_the_sessions_count_is_refused_and_not_saved(session, caps):
    for n in range(3):
        save(session, f"item_{n}", "a")
    with pytest.raises(ItemRefused) as refused:
        save(session, "item_3", "a")
    assert refused.value.code == "too_many"
    assert ConversationItem.objects.filter(session=session).count() == 3
    # A resend of an item already kept is not a new item.
    assert save(session, "item_2", "a")[0].text == "a"


def test_an_item_past_the_sessions_bytes_is_refused(session, caps):
    save(session, "item_1", "x" * 60)
    with pytest.raises(ItemRefused) as refused:
        save(session, "item_2", "y" * 41)
    assert refused.value.code == "too_large"
    save(session, "item_2", "y" * 40)  # exactly at the cap
    assert sorted(ConversationItem.objects.values_list("size", flat=True)) == [40, 60]


def test_bytes_count_characters_as_utf8_and_raw_data_too():
    assert item_size("né", {}) == 3
    assert item_size("", {"a": "é"}) == len('{"a": "é"}'.encode())


def test_a_late_transcript_counts_its_bytes_once(session, caps):
    save(session, "item_1", "x" * 60)
    item, outcome = save(session, "item_1", "x" * 90)  # the whole transcript replaces the start
    assert outcome == UPDATED and item.size == 90
    with pytest.raises(ItemRefused) as refused:
        save(session, "item_1", "x" * 101)
    assert refused.value.code == "too_large"
    assert ConversationItem.objects.get().text == "x" * 90


def test_the_learners_day_counts_every_session(session, alice, caps):
    other = new_session(alice)
    for n in range(3):
        save(session, f"a_{n}", "a")
    save(other, "b_0", "b")
    save(other, "b_1", "b")
    with pytest.raises(ItemRefused) as refused:
        save(other, "b_2", "b")
    assert refused.value.code == "too_many"
    assert "today" in refused.value.message


def test_the_learners_day_bytes_count_every_session(session, alice, caps):
    save(session, "a_0", "x" * 100)
    with pytest.raises(ItemRefused) as refused:
        save(new_session(alice), "b_0", "x" * 51)
    assert refused.value.code == "too_large"


def test_yesterdays_items_and_other_learners_items_do_not_count(session, alice, bob, caps):
    old = new_session(alice)
    for n in range(5):
        ConversationItem.objects.create(
            session=old, item_id=f"old_{n}", role="user", text="x" * 30, size=30,
            created_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=2),
        )
    bobs = new_session(bob)
    for n in range(3):
        save(bobs, f"bob_{n}", "x" * 30)
    for n in range(3):
        save(session, f"item_{n}", "x" * 30)
    assert ConversationItem.objects.filter(session=session).count() == 3


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("same_session", [True, False], ids=["one session", "two sessions"])
def test_racing_saves_never_pass_a_cap(alice, settings, same_session):
    """Six writers on their own connections (as two sockets or two processes would be)."""
    settings.TUTOR_MAX_ITEMS_PER_SESSION = 3
    settings.TUTOR_MAX_ITEMS_PER_LEARNER_DAY = 3
    sessions = [new_session(alice), new_session(alice)]

    def writer(n):
        try:
            return save(sessions[0] if same_session else sessions[n % 2], f"item_{n}", "a")[1]
        except ItemRefused as refused:
            return refused.code

    outcomes, errors = race(6, writer)

    assert errors == []
    assert sorted(outcomes) == [CREATED] * 3 + ["too_many"] * 3
    assert ConversationItem.objects.filter(session__learner=alice).count() == 3


@pytest.mark.django_db(transaction=True)
async def test_the_socket_refuses_an_item_past_a_cap_naming_it(alice, alice_cookie, caps):
    session = await TutorSession.objects.acreate(learner=alice, model="m", voice="v", instructions="")
    async with open_socket(session.pk, alice_cookie) as socket:
        for n in range(3):
            assert (await ask(socket, item(f"item_{n}", "a", order=n)))["type"] == "ack"
        too_many = await ask(socket, item("item_3", "a", order=3))
        too_large = await ask(socket, item("item_2", "x" * 200, order=2))
    assert too_many["type"] == "error" and too_many["code"] == "too_many" and too_many["item_id"] == "item_3"
    assert too_large["type"] == "error" and too_large["code"] == "too_large" and too_large["item_id"] == "item_2"
    assert await ConversationItem.objects.filter(session=session).acount() == 3


def test_the_caps_come_from_the_environment_with_clear_errors():
    import json as json_module
    import os
    import subprocess
    import sys
    from pathlib import Path

    names = [
        "TUTOR_MAX_ITEMS_PER_SESSION", "TUTOR_MAX_ITEM_BYTES_PER_SESSION",
        "TUTOR_MAX_ITEMS_PER_LEARNER_DAY", "TUTOR_MAX_ITEM_BYTES_PER_LEARNER_DAY",
        "GUARDRAIL_CHECKS_PER_MINUTE_PER_SOCKET", "GUARDRAIL_CHECKS_PER_MINUTE_PER_LEARNER",
    ]
    probe = (
        "import json, django; from django.conf import settings; django.setup();"
        f"print(json.dumps({{name: getattr(settings, name) for name in {names!r}}}))"
    )

    def load(**overrides):
        environ = {k: v for k, v in os.environ.items() if k not in names and k != "DATABASE_URL"}
        environ.update(DJANGO_SETTINGS_MODULE="config.settings", **overrides)
        return subprocess.run(
            [sys.executable, "-c", probe], cwd=Path(__file__).resolve().parents[2], env=environ,
            capture_output=True, text=True, timeout=60,
        )

    defaults = load()
    assert json_module.loads(defaults.stdout) == dict(zip(names, [1_000, 2_000_000, 3_000, 6_000_000, 60, 120]))
    assert json_module.loads(load(TUTOR_MAX_ITEMS_PER_SESSION="7").stdout)["TUTOR_MAX_ITEMS_PER_SESSION"] == 7
    refused = load(TUTOR_MAX_ITEM_BYTES_PER_SESSION="0")
    assert refused.returncode != 0 and "TUTOR_MAX_ITEM_BYTES_PER_SESSION=0 is below the minimum of 1" in refused.stderr

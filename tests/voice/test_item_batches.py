"""Group commit: items that arrive together in a process are saved in one transaction, each
answered only after it committed; a batch that fails is saved again item by item."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from tests.support.races import race
from tutor.models import ConversationItem, TutorSession
from voice import items
from voice.items import CREATED, UPDATED, ItemRefused, SessionEnded, conversation_item_save_batched, items_save

SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def fields(session, n: int, **extra):
    return {
        "session": session, "item_id": f"item_{n}", "role": "user", "kind": "message",
        "text": f"turno {n}", "raw": {"n": n}, "order": n, **extra,
    }


def statements(run) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        run()
    # The test's own transaction makes the batch's a savepoint: no statement in production.
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(SAVEPOINTS)]


@pytest.mark.django_db
@pytest.mark.parametrize("per_session", [1, 20, 50])
def test_a_batch_of_any_size_takes_two_statements(session, bob, per_session):
    other = TutorSession.objects.create(learner=bob, model="m", voice="v", instructions="")
    items_save([fields(session, 1000 + n) for n in range(5)])  # some saved before
    batch = [fields(session, n) for n in range(per_session)] + [fields(other, n) for n in range(per_session)]
    outcomes = []
    sql = statements(lambda: outcomes.extend(items_save(batch)))
    assert [outcome for _, outcome in outcomes] == [CREATED] * 2 * per_session
    assert len(sql) == 2, "\n".join(sql)
    assert "FOR UPDATE" in sql[0] or connection.vendor == "sqlite"  # both learners, one statement
    assert sql[1].startswith("WITH") and "INSERT" in sql[1] and "ON CONFLICT" in sql[1]
    assert ConversationItem.objects.count() == 5 + 2 * per_session
    saved = ConversationItem.objects.get(session=other, item_id="item_0")
    assert (saved.role, saved.kind, saved.text, saved.raw, saved.order, saved.verified, saved.size) == (
        "user", "message", "turno 0", {"n": 0}, 0, False, items.item_size("turno 0", {"n": 0})
    )
    assert [o.pk for o, _ in outcomes] == [
        ConversationItem.objects.get(session=f["session"], item_id=f["item_id"]).pk for f in batch
    ]


@pytest.mark.django_db
def test_a_batch_stores_what_it_was_given_exactly(session):
    text = 'dijo "hola" \\ y \'adiós\'\n\t😀 — ñ %s %(x)s ?'
    raw = {"a": [1, 2.5, None, True, False], "b": {"c": "é", "d": ""}, "e": -7}
    batch = [fields(session, 0, text=text, raw=raw, role="assistant", kind="function_call"), fields(session, 1, text="", raw={})]
    outcomes = items_save(batch)
    assert [o[1] for o in outcomes] == [CREATED, CREATED]
    first, second = ConversationItem.objects.order_by("order")
    assert (first.text, first.raw, first.role, first.kind, first.verified, first.flagged, first.flag_reason) == (
        text, raw, "assistant", "function_call", False, False, ""
    )
    assert (first.size, second.size, second.text, second.raw) == (items.item_size(text, raw), 0, "", {})
    assert first.created_at == first.updated_at == outcomes[0][0].created_at


@pytest.mark.django_db
def test_a_refused_item_is_its_own_outcome_and_the_rest_are_saved(session, settings):
    settings.TUTOR_MAX_ITEMS_PER_SESSION = 2
    outcomes = items_save([fields(session, n) for n in range(3)])
    assert [o[1] for o in outcomes[:2]] == [CREATED, CREATED]
    assert isinstance(outcomes[2], ItemRefused) and outcomes[2].code == "too_many"
    assert ConversationItem.objects.count() == 2


@pytest.mark.django_db
def test_a_failed_batch_is_saved_again_item_by_item(session):
    real = items._new_item_insert

    def insert(session, **kw):
        if kw["item_id"] == "item_1":
            raise DatabaseError("this one cannot be stored")
        return real(session, **kw)

    batch_insert = mock.patch.object(items, "_new_items_insert", side_effect=DatabaseError("the batch fails"))
    with batch_insert, mock.patch.object(items, "_new_item_insert", side_effect=insert):
        outcomes = items_save([fields(session, n) for n in range(3)])
    assert isinstance(outcomes[1], DatabaseError)
    assert [outcomes[0][1], outcomes[2][1]] == [CREATED, CREATED]
    assert sorted(ConversationItem.objects.values_list("item_id", flat=True)) == ["item_0", "item_2"]


@pytest.mark.django_db
def test_a_batch_keeps_the_rules_of_single_saves(session):
    items_save([fields(session, 0, text="")])
    outcomes = items_save([fields(session, 0, text="me llamo Alice"), fields(session, 1)])
    assert [o[1] for o in outcomes] == [UPDATED, CREATED]
    assert ConversationItem.objects.get(item_id="item_0").text == "me llamo Alice"
    ConversationItem.objects.filter(item_id="item_0").update(flagged=True)
    items_save([fields(session, 0, text="overwritten")])
    assert ConversationItem.objects.get(item_id="item_0").text == "me llamo Alice"


@pytest.mark.django_db(transaction=True)
async def test_items_arriving_together_share_one_transaction_and_are_answered_after_it(alice):
    from asgiref.sync import sync_to_async

    session = await sync_to_async(TutorSession.objects.create)(
        learner=alice, model="m", voice="v", instructions=""
    )
    batches = []
    real = items.items_save

    def spy(batch):
        batches.append(len(batch))
        return real(batch)

    with mock.patch.object(items, "items_save", side_effect=spy):
        outcomes = await asyncio.gather(*(conversation_item_save_batched(**fields(session, n)) for n in range(30)))
        # Each was answered after its transaction committed: another connection sees them all.
        assert await sync_to_async(ConversationItem.objects.filter(session=session).count)() == 30
        # One more, alone, goes in a batch of its own.
        await conversation_item_save_batched(**fields(session, 30))
    assert [outcome for _, outcome in outcomes] == [CREATED] * 30
    assert batches == [30, 1]


# --- closed sessions: read in the batch's own lock statement ---------------------------------


def outcome_of(result):
    return type(result).__name__ if isinstance(result, Exception) else result[1]


@pytest.mark.django_db
def test_an_item_of_an_ended_session_is_refused_and_not_saved(session):
    TutorSession.objects.filter(pk=session.pk).update(status=TutorSession.Status.ENDED)
    outcomes = items_save([fields(session, 0, open_only=True)])
    assert isinstance(outcomes[0], SessionEnded)
    assert not ConversationItem.objects.exists()
    # Without open_only (the sideband off: the page's copy is the only one) it is still taken.
    assert outcome_of(items_save([fields(session, 0)])[0]) == CREATED


@pytest.mark.django_db
def test_a_batch_mixing_open_and_closed_sessions_saves_only_the_open_ones(alice, bob, session):
    carol = User.objects.create_user(email="carol@example.com", password="x")
    ended = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="", status="ended")
    failed = TutorSession.objects.create(learner=bob, model="m", voice="v", instructions="", status="failed")
    bobs = TutorSession.objects.create(learner=bob, model="m", voice="v", instructions="", status="live")
    deactivated = TutorSession.objects.create(learner=carol, model="m", voice="v", instructions="", status="live")
    User.objects.filter(pk=carol.pk).update(is_active=False)
    batch = [
        fields(s, n, open_only=True)
        for n in range(3)
        for s in (session, ended, failed, bobs, deactivated)
    ]
    outcomes = []
    sql = statements(lambda: outcomes.extend(items_save(batch)))
    assert len(sql) == 2, "\n".join(sql)
    by_session = {}
    for f, result in zip(batch, outcomes, strict=True):
        by_session.setdefault(f["session"].pk, set()).add(outcome_of(result))
    assert by_session == {
        session.pk: {CREATED}, bobs.pk: {CREATED},
        ended.pk: {"SessionEnded"}, failed.pk: {"SessionEnded"}, deactivated.pk: {"SessionEnded"},
    }
    assert sorted(ConversationItem.objects.values_list("session_id", flat=True)) == sorted([session.pk, bobs.pk] * 3)


# --- caps in the multi-row insert --------------------------------------------------------


def new_session(learner):
    return TutorSession.objects.create(learner=learner, model="m", voice="v", instructions="")


@pytest.mark.django_db
def test_a_batch_crossing_the_sessions_count_cap_saves_the_items_before_it(session, bob, settings):
    settings.TUTOR_MAX_ITEMS_PER_SESSION = 5
    items_save([fields(session, 100), fields(session, 101)])
    bobs = new_session(bob)
    batch = [fields(session, n) for n in range(5)] + [fields(bobs, n) for n in range(5)]
    outcomes = [outcome_of(o) for o in items_save(batch)]
    assert outcomes == [CREATED] * 3 + ["ItemRefused"] * 2 + [CREATED] * 5
    assert sorted(ConversationItem.objects.filter(session=session).values_list("item_id", flat=True)) == [
        "item_0", "item_1", "item_100", "item_101", "item_2",
    ]


@pytest.mark.django_db
def test_a_batch_crossing_the_learners_day_cap_across_sessions(session, alice, settings):
    settings.TUTOR_MAX_ITEMS_PER_LEARNER_DAY = 4
    other = new_session(alice)
    batch = [fields(session, 0), fields(other, 0), fields(session, 1), fields(other, 1), fields(session, 2), fields(other, 2)]
    outcomes = items_save(batch)
    assert [outcome_of(o) for o in outcomes] == [CREATED] * 4 + ["ItemRefused"] * 2
    assert {o.code for o in outcomes[4:]} == {"too_many"} and "today" in outcomes[4].message
    assert ConversationItem.objects.count() == 4


@pytest.mark.django_db
@pytest.mark.parametrize("scope", ["session", "day"])
def test_a_batch_crossing_a_bytes_cap_saves_the_items_before_it_and_smaller_ones_after(session, settings, scope):
    cap = "TUTOR_MAX_ITEM_BYTES_PER_SESSION" if scope == "session" else "TUTOR_MAX_ITEM_BYTES_PER_LEARNER_DAY"
    setattr(settings, cap, 100)
    sized = [fields(session, n, text="x" * size, raw={}) for n, size in enumerate([30, 30, 50, 40, 0])]
    outcomes = items_save(sized)
    # 30 + 30 fit; 50 would make 110; 40 makes exactly 100 (the general path counts it exactly);
    # an empty item adds no bytes.
    assert [outcome_of(o) for o in outcomes] == [CREATED, CREATED, "ItemRefused", CREATED, CREATED]
    assert outcomes[2].code == "too_large"
    assert sum(ConversationItem.objects.values_list("size", flat=True)) == 100


@pytest.mark.django_db
def test_a_resend_before_a_new_item_at_the_cap_does_not_refuse_it(session, settings):
    """The insert counts the resend as if it were new; the general path counts exactly."""
    settings.TUTOR_MAX_ITEMS_PER_SESSION = 3
    items_save([fields(session, 0), fields(session, 1)])
    outcomes = items_save([fields(session, 0), fields(session, 2)])
    assert [outcome_of(o) for o in outcomes] == ["unchanged", CREATED]
    assert ConversationItem.objects.count() == 3


@pytest.mark.django_db
def test_an_item_twice_in_a_batch_is_saved_once_and_the_later_copy_wins(session):
    outcomes = items_save([fields(session, 0, text=""), fields(session, 0, text="me llamo Alice"), fields(session, 1)])
    assert [outcome_of(o) for o in outcomes] == [CREATED, UPDATED, CREATED]
    assert outcomes[0][0].pk == outcomes[1][0].pk
    assert ConversationItem.objects.get(item_id="item_0").text == "me llamo Alice"
    assert ConversationItem.objects.count() == 2


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("cap", ["TUTOR_MAX_ITEMS_PER_LEARNER_DAY", "TUTOR_MAX_ITEMS_PER_SESSION"])
def test_two_racing_batches_of_one_learner_never_pass_a_cap(alice, settings, cap):
    """Two processes' batches on their own connections, each crossing the cap if it counted
    without the other's: the learner's lock puts one after the other."""
    setattr(settings, cap, 7)
    sessions = [new_session(alice), new_session(alice)]
    if cap == "TUTOR_MAX_ITEMS_PER_SESSION":
        sessions = [sessions[0], sessions[0]]
    results, errors = race(
        2, lambda n: [outcome_of(o) for o in items_save([fields(sessions[n], 10 * n + k) for k in range(5)])]
    )

    assert errors == []
    assert sorted(results) == [[CREATED] * 2 + ["ItemRefused"] * 3, [CREATED] * 5]
    assert ConversationItem.objects.filter(session__learner=alice).count() == 7

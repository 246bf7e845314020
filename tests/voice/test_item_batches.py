"""Group commit: items that arrive together in a process are saved in one transaction, each
answered only after it committed; a batch that fails is saved again item by item."""

from __future__ import annotations

import asyncio
from unittest import mock

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from tutor.models import ConversationItem, TutorSession
from voice import items
from voice.items import CREATED, UPDATED, ItemRefused, conversation_item_save_batched, items_save

SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def fields(session, n: int, **extra):
    return {
        "session": session, "item_id": f"item_{n}", "role": "user", "kind": "message",
        "text": f"turno {n}", "raw": {"n": n}, "order": n, **extra,
    }


@pytest.mark.django_db
def test_a_batch_takes_one_lock_and_one_insert_per_item(session, bob):
    other = TutorSession.objects.create(learner=bob, model="m", voice="v", instructions="")
    batch = [fields(session, n) for n in range(20)] + [fields(other, n) for n in range(20)]
    with CaptureQueriesContext(connection) as queries:
        outcomes = items_save(batch)
    sql = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(SAVEPOINTS)]
    assert [outcome for _, outcome in outcomes] == [CREATED] * 40
    assert len(sql) == 1 + 40, "\n".join(sql)  # both learners locked in one statement
    assert ConversationItem.objects.count() == 40


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

    with mock.patch.object(items, "_new_item_insert", side_effect=insert):
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

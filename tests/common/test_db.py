"""The hot paths' plain-SQL helpers make what the ORM makes."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.utils import timezone

from common.db import pipelined, row_insert, row_lock, rows_as_instances, rows_read
from tutor.models import TutorSession

pytestmark = pytest.mark.django_db

FIELDS = [f.attname for f in TutorSession._meta.concrete_fields]


def fields_of(session):
    return {name: getattr(session, name) for name in FIELDS}


def test_an_inserted_row_reads_back_as_the_orm_would_have_written_it(alice):
    now = timezone.now()
    session = TutorSession(
        learner=alice, model="gpt-realtime", voice="marin", instructions="Hola",
        focus_words=["gato", "ñu"], minted_at=now, hangup_at=now + dt.timedelta(minutes=5),
        usage={"response_ids": ["r1"], "input_tokens": 3}, keys_unreported=1,
    )
    row_insert(session)
    assert session.pk is not None and not session._state.adding
    assert fields_of(TutorSession.objects.get(pk=session.pk)) == fields_of(session)


def test_rows_read_gives_the_orms_instances_with_their_types(alice, bob):
    now = timezone.now()
    mine = TutorSession.objects.create(
        learner=alice, model="m", voice="v", instructions="x", focus_words=["a"], minted_at=now,
        usage={"n": 1},
    )
    TutorSession.objects.create(learner=bob, model="m", voice="v", instructions="y", focus_words=[], minted_at=now)
    found = rows_read(TutorSession, f"{connection.ops.quote_name('learner_id')} = %s", [alice.pk])
    assert [fields_of(s) for s in found] == [fields_of(TutorSession.objects.get(pk=mine.pk))]
    assert isinstance(found[0].minted_at, dt.datetime) and found[0].minted_at.tzinfo is not None
    assert found[0].focus_words == ["a"] and found[0].usage == {"n": 1}


def test_the_empty_side_of_an_outer_join_makes_no_instance():
    columns = [f.column for f in TutorSession._meta.concrete_fields]
    assert rows_as_instances(TutorSession, columns, [tuple(None for _ in columns)]) == []


def test_a_lock_and_a_read_go_out_together_and_both_answer(alice):
    from django.db import transaction

    from accounts.models import User

    with transaction.atomic():
        with connection.cursor() as cursor:
            with pipelined():
                row_lock(User, alice.pk, wait=False)
                cursor.execute("SELECT COUNT(*) FROM accounts_user WHERE id = %s", [alice.pk])
            assert cursor.fetchone() == (1,)

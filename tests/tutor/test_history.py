import datetime as dt

import pytest
from django.http import Http404
from django.utils import timezone

from tutor.history import learner_history, learner_session_get
from tutor.models import Review, TestResult, TutorSession, WordProgress

pytestmark = pytest.mark.django_db


def test_it_charts_grades_and_mastered_words_and_counts_the_streak(alice, alice_words):
    now = timezone.now()
    TestResult.objects.create(learner=alice, word_list=alice_words, score=5, max_score=10, taken_at=now - dt.timedelta(days=1))
    TestResult.objects.create(learner=alice, word_list=alice_words, score=9, max_score=10, taken_at=now)
    gato = alice_words.words.get(term="gato")
    WordProgress.objects.create(learner=alice, word=gato, interval_days=30, mastered_at=now)
    Review.objects.create(learner=alice, word=gato, outcome="correct", reviewed_at=now - dt.timedelta(days=2))

    history = learner_history(learner=alice, now=now)
    assert [p.label.split(": ")[1] for p in history.grades.points] == ["50%", "90%"]
    assert history.mastered.points[-1].label.endswith(": 1")
    assert history.streak == 3


def test_past_sessions_count_turns_and_words(alice, bob, alice_words):
    now = timezone.now()
    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="", connected_at=now, ended_at=now + dt.timedelta(minutes=3))
    session.items.create(item_id="item_1", role="user", text="hola")
    # Tool activity is not a turn.
    session.items.create(item_id="item_2", role="assistant", kind="function_call", text="record_word_practice({})")
    session.items.create(item_id="item_3", role="tool", kind="function_call_output", text='{"recorded": true}')
    Review.objects.create(learner=alice, word=alice_words.words.first(), outcome="correct", source="voice", session=session)
    TutorSession.objects.create(learner=bob, model="m", voice="v", instructions="", connected_at=now)

    sessions = learner_history(learner=alice, now=now).sessions
    assert [(s.pk, s.item_count, s.words_practised, s.duration_minutes) for s in sessions] == [(session.pk, 1, 1, 3.0)]


def test_another_learners_session_is_not_found(alice, bob):
    session = TutorSession.objects.create(learner=bob, model="m", voice="v", instructions="")
    with pytest.raises(Http404):
        learner_session_get(learner=alice, session_id=session.pk)
    assert learner_session_get(learner=bob, session_id=session.pk) == session

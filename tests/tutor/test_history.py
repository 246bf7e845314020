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
    for days_ago in (0, 1, 2):
        Review.objects.create(learner=alice, word=gato, outcome="correct", reviewed_at=now - dt.timedelta(days=days_ago))

    history = learner_history(learner=alice, now=now)
    assert [p.label.split(": ")[1] for p in history.grades.points] == ["50%", "90%"]
    assert history.mastered.points[-1].label.endswith(": 1")
    assert history.streak == 3


def test_the_streak_counts_only_days_with_practice(alice, alice_words):
    """A voice session that practised nothing, or a grade without reviews, is no day of practice."""
    now = timezone.now()
    gato = alice_words.words.get(term="gato")
    Review.objects.create(learner=alice, word=gato, outcome="correct", reviewed_at=now - dt.timedelta(days=2))
    TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="", connected_at=now - dt.timedelta(days=1))
    Review.objects.create(learner=alice, word=gato, outcome="correct", reviewed_at=now)
    assert learner_history(learner=alice, now=now).streak == 1


def test_the_axes_start_at_the_first_data_not_sixty_days_back(alice, alice_words):
    now = timezone.now()
    TestResult.objects.create(learner=alice, word_list=alice_words, score=5, max_score=10, taken_at=now - dt.timedelta(days=10))
    TestResult.objects.create(learner=alice, word_list=alice_words, score=9, max_score=10, taken_at=now)
    history = learner_history(learner=alice, now=now)
    first, last = history.grades.points
    assert (first.x, last.x) == (history.grades.left, history.grades.right)


def test_the_goal_counts_distinct_words_practised_today(alice, alice_words):
    now = timezone.now()
    alice.daily_goal_words = 3
    gato, perro = alice_words.words.get(term="gato"), alice_words.words.get(term="perro")
    for word in (gato, gato, perro):
        Review.objects.create(learner=alice, word=word, outcome="correct", reviewed_at=now)
    Review.objects.create(learner=alice, word=perro, outcome="correct", reviewed_at=now - dt.timedelta(days=1))
    goal = learner_history(learner=alice, now=now).goal
    assert (goal.done, goal.goal, goal.reached) == (2, 3, False)


def test_the_heatmap_shades_the_days_with_reviews(alice, alice_words):
    now = timezone.now()
    gato = alice_words.words.get(term="gato")
    for _ in range(4):
        Review.objects.create(learner=alice, word=gato, outcome="correct", reviewed_at=now)
    Review.objects.create(learner=alice, word=gato, outcome="correct", reviewed_at=now - dt.timedelta(days=3))
    heatmap = learner_history(learner=alice, now=now).heatmap
    shaded = [cell for cell in heatmap.cells if cell.level]
    assert heatmap.days_active == 2 and [cell.level for cell in shaded] == [1, 4]
    assert shaded[-1].label.endswith(": 4 reviews")


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

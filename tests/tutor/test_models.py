"""Database constraints hold the uniqueness rules."""

import pytest
from django.db import IntegrityError, transaction

from tutor.models import Assignment, ConversationItem, TestResult, TutorSession, WordProgress

pytestmark = pytest.mark.django_db


def test_a_second_progress_row_for_the_same_learner_and_word_is_refused(alice, spanish):
    word = spanish.words.first()
    WordProgress.objects.create(learner=alice, word=word)
    with pytest.raises(IntegrityError), transaction.atomic():
        WordProgress.objects.create(learner=alice, word=word)


def test_two_learners_each_get_progress_on_the_same_word(alice, bob, spanish):
    word = spanish.words.first()
    WordProgress.objects.create(learner=alice, word=word)
    WordProgress.objects.create(learner=bob, word=word)
    assert WordProgress.objects.filter(word=word).count() == 2


def test_a_list_is_assigned_to_a_learner_once(alice, spanish):
    Assignment.objects.create(learner=alice, word_list=spanish)
    with pytest.raises(IntegrityError), transaction.atomic():
        Assignment.objects.create(learner=alice, word_list=spanish)


def test_an_item_id_is_unique_within_a_session_only(alice):
    first = TutorSession.objects.create(learner=alice, model="gpt-realtime", voice="marin", instructions="x")
    second = TutorSession.objects.create(learner=alice, model="gpt-realtime", voice="marin", instructions="x")
    ConversationItem.objects.create(session=first, item_id="item_1", role="user")
    ConversationItem.objects.create(session=second, item_id="item_1", role="user")
    with pytest.raises(IntegrityError), transaction.atomic():
        ConversationItem.objects.create(session=first, item_id="item_1", role="assistant")


def test_a_score_above_the_maximum_is_refused(alice, spanish):
    with pytest.raises(IntegrityError), transaction.atomic():
        TestResult.objects.create(learner=alice, word_list=spanish, score=11, max_score=10)


def test_a_word_is_unique_within_its_list(spanish):
    with pytest.raises(IntegrityError), transaction.atomic():
        spanish.words.create(term="gato", meaning="cat again")


def test_progress_knows_its_state(alice, spanish):
    from django.utils import timezone

    progress = WordProgress.objects.create(learner=alice, word=spanish.words.first())
    assert progress.state == "new"
    progress.last_reviewed_at = timezone.now()
    progress.interval_days = 3
    assert progress.state == "learning"
    progress.interval_days = 30
    assert progress.state == "mastered"

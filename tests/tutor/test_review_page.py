import datetime as dt
import re

import pytest
from django.test import Client
from django.utils import timezone

from tutor.models import Review, Word, WordList, WordProgress
from tutor.flashcards import SESSION_KEY

pytestmark = pytest.mark.django_db


def grade(client, word: Word, value: str = "good"):
    return client.post("/review/grade/", {"word": word.pk, "grade": value})


def current_word(client) -> Word:
    response = client.get("/review/")
    assert response.status_code == 200
    return response.context["card"].word


def test_it_shows_the_first_card_with_the_answer_behind_a_details_element(alice_client, alice_words):
    response = alice_client.get("/review/")
    body = response.content.decode()
    assert response.context["card"].word.term == "gato"
    assert "Card 1 of 4" in body
    assert body.index("gato") < body.index("<details class=\"flashcard-answer") < body.index("cat")
    assert 'name="csrfmiddlewaretoken"' in body
    assert 'value="again"' in body and 'value="hard"' in body and 'value="good"' in body
    assert 'value="easy"' in body
    assert "js/review.js" in body and "<script>" not in body


def test_each_button_shows_the_interval_the_scheduler_gives_with_keys_one_to_four(alice_client, alice_words):
    body = alice_client.get("/review/").content.decode()
    buttons = re.findall(
        r'value="(\w+)" class="grade[^"]*" data-key="(\d)">\s*<span class="grade-label">\w+</span>\s*'
        r'<span class="grade-when" data-when>([^<]+)</span>',
        body,
    )
    assert buttons == [("again", "1", "1 min"), ("hard", "2", "6 min"), ("good", "3", "10 min"), ("easy", "4", "8 d")]
    # The speak button is there for the script to show; without JavaScript it stays hidden.
    assert 'data-speak="gato" data-lang="es" hidden' in body


def test_easy_schedules_the_word_days_away(alice_client, alice, alice_words):
    gato = current_word(alice_client)
    grade(alice_client, gato, "easy")
    progress = WordProgress.objects.get(learner=alice, word=gato)
    assert progress.card_state == WordProgress.CardState.REVIEW and progress.interval_days == 8
    assert Review.objects.get(learner=alice).rating == 4


def test_grading_records_the_practice_and_shows_the_next_card(alice_client, alice, alice_words):
    gato = current_word(alice_client)
    response = grade(alice_client, gato, "again")
    assert response.status_code == 302 and response["Location"] == "/review/"

    progress = WordProgress.objects.get(learner=alice, word=gato)
    assert (progress.last_result, progress.incorrect_count) == ("incorrect", 1)
    assert Review.objects.get(learner=alice).source == Review.Source.FLASHCARD
    response = alice_client.get("/review/")
    assert response.context["card"].word.term == "perro"
    assert "Card 2 of 4" in response.content.decode()


def test_a_resent_grade_is_recorded_once(alice_client, alice, alice_words):
    gato = current_word(alice_client)
    grade(alice_client, gato)
    response = grade(alice_client, gato, "again")
    assert response.status_code == 302
    assert Review.objects.filter(learner=alice, word=gato).count() == 1
    assert WordProgress.objects.get(learner=alice, word=gato).last_result == "correct"
    assert "already graded" in alice_client.get("/review/").content.decode()


def test_the_round_ends_with_a_summary_and_the_next_visit_starts_afresh(alice_client, alice, alice_words):
    for value in ["good", "hard", "again", "good"]:
        grade(alice_client, current_word(alice_client), value)

    response = alice_client.get("/review/")
    body = response.content.decode()
    assert response.context["card"] is None and response.context["counts"] == {"again": 1, "hard": 1, "good": 2, "easy": 0}
    assert "Round done: 4 cards" in body
    assert "Another round" in body
    # The card graded again comes back in a minute, and the page says so.
    assert "No card is due right now: the next one comes back in 1 min." in body
    assert SESSION_KEY not in alice_client.session
    # Every word was just reviewed and none is due: nothing left.
    response = alice_client.get("/review/")
    assert response.context["round"] is None
    assert "Nothing to review right now" in response.content.decode()


def test_a_learner_without_lists_is_told_so(bob_client):
    body = bob_client.get("/review/").content.decode()
    assert "Nothing to review right now" in body and "No word lists yet" in body


def test_posting_a_word_outside_the_learners_lists_is_404(alice_client, alice, alice_words):
    other = WordList.objects.create(name="Someone else's", language="es")
    zorro = Word.objects.create(word_list=other, term="zorro", meaning="fox")
    current_word(alice_client)
    assert grade(alice_client, zorro).status_code == 404
    assert not Review.objects.exists()


def test_it_checks_ownership(alice_client, bob_client, bob, alice_words):
    gato = current_word(alice_client)
    bob_client.get("/review/")
    assert grade(bob_client, gato).status_code == 404
    assert not WordProgress.objects.filter(learner=bob).exists()


def test_bad_input_is_refused(alice_client, alice_words):
    gato = current_word(alice_client)
    assert alice_client.post("/review/grade/", {"word": gato.pk, "grade": "perfect"}).status_code == 400
    assert alice_client.post("/review/grade/", {"word": "x", "grade": "good"}).status_code == 400
    assert not Review.objects.exists()


def test_grading_needs_a_post_with_a_csrf_token(alice, alice_words):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    gato = current_word(client)
    assert client.get("/review/grade/").status_code == 405
    assert grade(client, gato).status_code == 403
    assert not Review.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, alice_words):
    for response in [client.get("/review/"), client.post("/review/grade/", {"word": 1, "grade": "good"})]:
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_old_unfinished_round_makes_way_for_a_new_one(alice_client, alice, alice_words):
    grade(alice_client, current_word(alice_client))  # gato, graded: the round moves on to perro
    session = alice_client.session
    session[SESSION_KEY]["started"] = (timezone.now() - dt.timedelta(hours=7)).timestamp()
    session.save()
    response = alice_client.get("/review/")
    # A fresh round: gato is not due until tomorrow, so it starts at perro as card 1 of 3.
    assert response.context["card"].word.term == "perro"
    assert "Card 1 of 3" in response.content.decode()

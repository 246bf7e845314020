import re

import pytest
from django.core import signing
from django.test import Client

from tutor.models import Assignment, Review, TestResult, Word, WordList
from tutor.written_test import CHOICE, TOKEN_SALT, written_test_load

pytestmark = pytest.mark.django_db


@pytest.fixture
def words(alice):
    word_list = WordList.objects.create(name="Everyday", language="es")
    for position, (term, meaning) in enumerate(
        [("gato", "cat"), ("perro", "dog"), ("casa", "house"), ("agua", "water"), ("pájaro", "bird"), ("árbol", "tree")]
    ):
        Word.objects.create(word_list=word_list, term=term, meaning=meaning, position=position)
    Assignment.objects.create(learner=alice, word_list=word_list)
    return word_list


def new_test(client):
    response = client.get("/test/")
    assert response.status_code == 200
    token = re.search(r'name="token" value="([^"]+)"', response.content.decode()).group(1)
    return response, token


def right_answers(learner, token) -> dict[str, str]:
    test = written_test_load(learner=learner, token=token)
    return {
        q.field_name: str(q.options.index(q.word) + 1) if q.kind == CHOICE else q.word.term.upper().replace("Á", "A")
        for q in test.questions
    }


def test_it_shows_a_test_with_typed_and_multiple_choice_questions(alice_client, words):
    response, token = new_test(alice_client)
    body = response.content.decode()
    assert len(response.context["form"].test.questions) == 6
    assert 'type="radio"' in body and 'type="text"' in body
    assert "Type the word for" in body and "Choose the word for" in body
    assert 'name="csrfmiddlewaretoken"' in body and token


def test_submitting_grades_the_test_and_shows_the_result(alice_client, alice, words):
    _, token = new_test(alice_client)
    answers = right_answers(alice, token)
    missed_field = next(iter(answers))
    answers[missed_field] = ""

    # One blank: the page asks to confirm first, keeping the answers.
    response = alice_client.post("/test/submit/", {"token": token, **answers})
    body = response.content.decode()
    assert response.status_code == 200 and "data-confirm-blanks" in body
    assert "1 question is unanswered" in body and 'name="confirm_blanks"' in body
    assert not TestResult.objects.exists() and not Review.objects.exists()
    typed = next(q for q in response.context["form"].test.questions if q.kind != CHOICE and q.field_name != missed_field)
    assert f'value="{answers[typed.field_name]}"' in body

    response = alice_client.post("/test/submit/", {"token": token, **answers, "confirm_blanks": "1"})

    result = TestResult.objects.get(learner=alice)
    assert response.status_code == 302 and response["Location"] == f"/test/results/{result.pk}/"
    assert (result.score, result.max_score, result.source) == (5, 6, "written")
    assert Review.objects.filter(learner=alice, source="test").count() == 6
    body = alice_client.get(response["Location"]).content.decode()
    assert "5/6" in body and "Missed (1)" in body and "no answer" in body


def test_an_empty_submission_is_not_graded_and_keeps_the_test(alice_client, alice, words):
    _, token = new_test(alice_client)
    blanks = {name: "" for name in right_answers(alice, token)}
    for extra in ({}, {"confirm_blanks": "1"}):
        response = alice_client.post("/test/submit/", {"token": token, **blanks, **extra})
        body = response.content.decode()
        assert response.status_code == 200 and "Nothing was answered" in body
        assert f'value="{token}"' in body and "Check my answers" in body
    assert not TestResult.objects.exists() and not Review.objects.exists()
    # The same test can still be answered and graded.
    alice_client.post("/test/submit/", {"token": token, **right_answers(alice, token)})
    assert TestResult.objects.get(learner=alice).score == 6


def test_each_answer_is_one_rating_blank_is_again(alice_client, alice, words):
    _, token = new_test(alice_client)
    answers = right_answers(alice, token)
    blank_field = next(iter(answers))
    answers[blank_field] = ""
    alice_client.post("/test/submit/", {"token": token, **answers, "confirm_blanks": "1"})
    ratings = sorted(Review.objects.filter(learner=alice, source="test").values_list("rating", "scheduled"))
    assert ratings == [(1, True)] + [(3, True)] * 5


def test_the_grade_shows_on_the_dashboard(alice_client, alice, words):
    _, token = new_test(alice_client)
    alice_client.post("/test/submit/", {"token": token, **right_answers(alice, token)})
    result = TestResult.objects.get(learner=alice)
    response = alice_client.get("/")
    body = response.content.decode()
    assert "6/6" in body and f"/test/results/{result.pk}/" in body
    assert response.context["history"].grades.points


def test_a_test_is_graded_only_once(alice_client, alice, words):
    _, token = new_test(alice_client)
    answers = right_answers(alice, token)
    alice_client.post("/test/submit/", {"token": token, **answers})
    response = alice_client.post("/test/submit/", {"token": token, **answers})
    result = TestResult.objects.get(learner=alice)
    assert response.status_code == 302 and response["Location"] == f"/test/results/{result.pk}/"
    assert Review.objects.filter(learner=alice).count() == 6


def test_a_second_browser_cannot_grade_the_same_test_again(alice_client, alice, words, client):
    # Another signed-in browser of the same learner: a different Django session.
    _, token = new_test(alice_client)
    answers = right_answers(alice, token)
    alice_client.post("/test/submit/", {"token": token, **answers})
    client.force_login(alice)
    client.post("/test/submit/", {"token": token, **answers})
    assert TestResult.objects.filter(learner=alice).count() == 1


def test_a_tampered_hidden_field_is_refused(alice_client, alice, words):
    _, token = new_test(alice_client)
    payload = signing.loads(token, salt=TOKEN_SALT)
    payload["n"] = "0" * 16  # another test's nonce
    unsigned = signing.dumps(payload, salt=TOKEN_SALT, key="not the secret key")
    for bad in [unsigned, token + "x", ""]:
        response = alice_client.post("/test/submit/", {"token": bad, "answer_1": "gato"})
        assert response.status_code == 400
        assert "can’t be graded" in response.content.decode()
    assert not TestResult.objects.exists() and not Review.objects.exists()


def test_a_choice_that_was_not_offered_is_refused(alice_client, alice, words):
    _, token = new_test(alice_client)
    test = written_test_load(learner=alice, token=token)
    question = next(q for q in test.questions if q.kind == CHOICE)
    outside = Word.objects.exclude(pk__in=[o.pk for o in question.options]).first()
    for value in [str(len(question.options) + 1), "0", "-1", str(outside.pk) + "0"]:
        response = alice_client.post("/test/submit/", {"token": token, question.field_name: value})
        assert response.status_code == 400
        assert "Select a valid choice" in response.content.decode()
    assert not TestResult.objects.exists()


def test_the_page_tells_nothing_of_the_answers(alice_client, alice, words):
    response, token = new_test(alice_client)
    body = response.content.decode()
    test = written_test_load(learner=alice, token=token)
    # The token is signed, not encrypted: all it holds is the version and the nonce.
    assert signing.loads(token, salt=TOKEN_SALT) == {"v": 2, "n": test.nonce}
    for question in test.questions:
        if question.kind == CHOICE:
            values = re.findall(rf'name="{question.field_name}" value="([^"]*)"', body)
            assert values == ["1", "2", "3", "4"]


def test_the_numbered_choice_grades_the_word_it_names(alice_client, alice, words):
    _, token = new_test(alice_client)
    test = written_test_load(learner=alice, token=token)
    answers = right_answers(alice, token)
    wrong = next(q for q in test.questions if q.kind == CHOICE)
    answers[wrong.field_name] = str(next(n for n, o in enumerate(wrong.options, 1) if o != wrong.word))
    alice_client.post("/test/submit/", {"token": token, **answers})
    result = TestResult.objects.get(learner=alice)
    assert result.score == result.max_score - 1


def test_not_enough_words_gets_a_friendly_message(bob_client):
    body = bob_client.get("/test/").content.decode()
    assert "Not enough words for a test yet" in body and "<form" not in body.split("<main")[1]


def test_it_checks_ownership(alice_client, bob_client, alice, bob, words):
    Assignment.objects.create(learner=bob, word_list=words)
    _, token = new_test(alice_client)
    alice_client.post("/test/submit/", {"token": token, **right_answers(alice, token)})
    result = TestResult.objects.get(learner=alice)

    assert bob_client.get(f"/test/results/{result.pk}/").status_code == 404
    response = bob_client.post("/test/submit/", {"token": token, **right_answers(alice, token)})
    assert response.status_code == 400 and "someone else" in response.content.decode()
    assert not TestResult.objects.filter(learner=bob).exists()


def test_grading_needs_a_post_with_a_csrf_token(alice, words):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    _, token = new_test(client)
    assert client.get("/test/submit/").status_code == 405
    assert client.post("/test/submit/", {"token": token}).status_code == 403
    assert not TestResult.objects.exists()


def test_anonymous_visitors_are_sent_to_sign_in(client, alice, words):
    result = TestResult.objects.create(learner=alice, score=1, max_score=2)
    for response in [
        client.get("/test/"),
        client.post("/test/submit/", {"token": "x"}),
        client.get(f"/test/results/{result.pk}/"),
    ]:
        assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_a_voice_quiz_result_page_shows_its_details_too(alice_client, alice):
    result = TestResult.objects.create(
        learner=alice,
        score=1,
        max_score=2,
        source="voice",
        details=[{"term": "gato", "correct": True}, {"term": "perro", "expected": "perro", "given": "pero", "correct": False}, "junk"],
    )
    body = alice_client.get(f"/test/results/{result.pk}/").content.decode()
    assert "Voice quiz" in body and "1/2" in body and "pero" in body and "Missed (1)" in body

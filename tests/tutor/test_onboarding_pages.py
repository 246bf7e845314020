"""The first run, the placement page, the word lists page and the learning settings."""

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from accounts.models import User
from tutor.models import WordList
from tutor.placement import placement_load
from tutor.starter import starter_list_name

pytestmark = pytest.mark.django_db

PROFILE = {"target_language": "fr", "native_language": "en", "cefr_level": "A2", "daily_goal_words": "15"}


def sign_up(client: Client, email: str = "nina@example.com"):
    password = "a-long-pass-phrase-9"
    return client.post("/accounts/signup/", {"email": email, "password1": password, "password2": password})


def test_a_new_learner_is_sent_to_the_first_run_and_the_dashboard_sends_them_back(client):
    response = sign_up(client)
    assert response.status_code == 302 and response["Location"] == "/start/"
    assert User.objects.get(email="nina@example.com").needs_onboarding
    assert client.get("/")["Location"] == "/start/"
    page = client.get("/start/").content.decode()
    assert 'name="target_language"' in page and 'name="daily_goal_words"' in page and 'name="placement"' in page


def test_finishing_the_first_run_saves_it_and_leads_to_picking_a_list(client):
    sign_up(client)
    response = client.post("/start/", PROFILE)
    assert response.status_code == 302 and response["Location"] == "/lists/"
    learner = User.objects.get(email="nina@example.com")
    assert (learner.target_language, learner.cefr_level, learner.daily_goal_words, learner.needs_onboarding) == (
        "fr", "A2", 15, False,
    )
    assert client.get("/").status_code == 200


def test_the_first_run_refuses_bad_input_with_clear_errors(client):
    sign_up(client)
    response = client.post("/start/", {**PROFILE, "native_language": "fr", "daily_goal_words": "0"})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Pick a language other than your own." in body and "greater than or equal to 1" in body
    response = client.post("/start/", {**PROFILE, "target_language": "xx"})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    assert User.objects.get(email="nina@example.com").needs_onboarding


def test_the_placement_is_offered_only_where_there_is_a_starter_list(client):
    sign_up(client)
    response = client.post("/start/", {**PROFILE, "target_language": "ja", "placement": "on"})
    assert response.status_code == 400 and "Spanish, French and German" in response.content.decode()
    response = client.post("/start/", {**PROFILE, "placement": "on"})
    assert response["Location"] == "/start/placement/"


def test_the_placement_page_sets_the_level(alice_client, alice):
    page = alice_client.get("/start/placement/")
    assert page.status_code == 200
    assert len(re.findall(r'data-question="\d+"', page.content.decode())) == 10
    test = page.context["form"].test
    answers = {}
    for question, field in page.context["form"].questions():
        if question.kind == "choice":
            answers[field.html_name] = str(next(n for n, o in enumerate(question.options, 1) if o.pk == question.word.pk))
        else:
            answers[field.html_name] = question.word.term.upper()
    token = page.context["form"].initial["token"]
    assert placement_load(learner=alice, token=token).questions == test.questions
    response = alice_client.post("/start/placement/", {"token": token, **answers})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.cefr_level == "B2"
    # Sent again: graded once only.
    alice.cefr_level = "A1"
    alice.save()
    alice_client.post("/start/placement/", {"token": token, **answers})
    alice.refresh_from_db()
    assert alice.cefr_level == "A1"


def test_a_forged_placement_token_is_refused(alice_client):
    response = alice_client.post("/start/placement/", {"token": "forged"})
    assert response.status_code == 400 and "could not be checked" in response.content.decode()


def test_a_learner_with_no_lists_is_led_to_pick_one_not_to_the_tutor(bob_client):
    body = bob_client.get("/").content.decode()
    assert 'data-action="pick-list"' in body and 'href="/lists/"' in body
    assert 'data-action="tutor"' not in body
    page = bob_client.get("/lists/").content.decode()
    assert starter_list_name("es") in page and "data-pick-starter" in page


def test_picking_the_starter_list_gives_the_learner_its_words(bob_client, bob):
    response = bob_client.post("/lists/starter/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert bob.word_lists.get().name == starter_list_name("es")
    body = bob_client.get("/").content.decode()
    assert 'data-action="review"' in body and '<strong lang="es">hola</strong>' in body
    assert "data-pick-starter" not in bob_client.get("/lists/").content.decode()


def test_picking_a_starter_list_needs_a_post_with_csrf(bob):
    client = Client(enforce_csrf_checks=True)
    client.force_login(bob)
    assert client.get("/lists/starter/").status_code == 405
    assert client.post("/lists/starter/").status_code == 403
    assert not bob.word_lists.exists()


def test_a_language_without_a_starter_list_is_told_so(bob_client, bob):
    bob.target_language = "ja"
    bob.save()
    assert "no starter list for Japanese" in bob_client.get("/lists/").content.decode()
    bob_client.post("/lists/starter/")
    assert not bob.word_lists.exists()


def test_importing_an_own_list_from_the_page(bob_client, bob, alice):
    upload = SimpleUploadedFile("w.csv", b"term,meaning,example\ntaza,cup,Una taza de t\xc3\xa9.\n")
    response = bob_client.post("/lists/import/", {"name": "Mine", "file": upload})
    assert response.status_code == 302
    mine = bob.word_lists.get()
    assert (mine.name, mine.owner, mine.words.get().term) == ("Mine", bob, "taza")
    assert not alice.word_lists.exists()
    assert "yours" in bob_client.get("/lists/").content.decode()


def test_a_bad_csv_imports_nothing_and_lists_every_bad_row(bob_client, bob):
    upload = SimpleUploadedFile("w.csv", b"term,meaning\ntaza,\n,cup\ntaza,cup\n")
    response = bob_client.post("/lists/import/", {"name": "Mine", "file": upload})
    assert response.status_code == 400
    body = response.content.decode()
    assert "Nothing was imported" in body and "Row 2: meaning is blank." in body and "Row 3: term is blank." in body
    assert not WordList.objects.filter(name="Mine").exists()
    response = bob_client.post("/lists/import/", {"name": ""})
    assert response.status_code == 400 and "This field is required." in response.content.decode()


def test_the_account_page_changes_languages_level_and_goal(alice_client, alice):
    page = alice_client.get("/account/learning/").content.decode()
    assert 'href="/account/learning/"' in page and 'href="/accounts/email/"' in page
    response = alice_client.post("/account/learning/", {**PROFILE, "target_language": "de", "cefr_level": "B1"})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.target_language, alice.cefr_level, alice.daily_goal_words) == ("de", "B1", 15)
    response = alice_client.post("/account/learning/", {**PROFILE, "daily_goal_words": "500"})
    assert response.status_code == 400
    alice.refresh_from_db()
    assert alice.daily_goal_words == 15


def test_the_nav_has_a_menu_for_narrow_screens(alice_client):
    body = alice_client.get("/").content.decode()
    menu = body[body.index("<details class=\"nav-menu\""): body.index("</details>")]
    assert "<summary>Menu</summary>" in menu and "Sign out" in menu and "Account" in menu


def test_the_forms_change_only_the_learners_own_settings(alice_client, alice, bob):
    """Extra fields are ignored: no voice minutes, staff flag or someone else's profile."""
    for url in ("/start/", "/account/learning/"):
        alice_client.post(url, {**PROFILE, "daily_voice_minutes": "600", "is_staff": "on", "email": bob.email, "pk": bob.pk})
    alice.refresh_from_db()
    bob.refresh_from_db()
    assert (alice.daily_voice_minutes, alice.is_staff, alice.email) == (20, False, "alice@example.com")
    assert (bob.target_language, bob.daily_goal_words) == ("es", 10)


def test_an_oversized_or_broken_upload_is_refused_clearly(bob_client, bob):
    big = SimpleUploadedFile("w.csv", b"term,meaning\n" + b"a,b\n" * (600 * 1024))
    response = bob_client.post("/lists/import/", {"name": "Big", "file": big})
    assert response.status_code == 400 and "larger than 2 MB" in response.content.decode()
    latin1 = SimpleUploadedFile("w.csv", "term,meaning\nniño,child\n".encode("latin-1"))
    response = bob_client.post("/lists/import/", {"name": "Latin", "file": latin1})
    assert response.status_code == 400 and "not UTF-8" in response.content.decode()
    assert not bob.word_lists.exists()

"""The "Import words from CSV" page on the word list changelist: staff only, all or nothing."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from tutor.models import Word, WordList

pytestmark = pytest.mark.django_db

URL = "/admin/tutor/wordlist/import/"


def upload(text: str, name: str = "words.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8-sig"), content_type="text/csv")


def test_the_url_is_named_and_linked_from_the_changelist(staff_client):
    assert reverse("admin:tutor_wordlist_import") == URL
    body = staff_client.get("/admin/tutor/wordlist/").content.decode()
    assert f'href="{URL}"' in body and "Import words from CSV" in body


def test_it_shows_the_form(staff_client, spanish):
    response = staff_client.get(URL)

    assert response.status_code == 200
    body = response.content.decode()
    assert 'enctype="multipart/form-data"' in body
    assert "csrfmiddlewaretoken" in body
    assert "Spanish basics" in body  # an existing list to add to


def test_it_creates_a_list_and_goes_to_it(staff_client):
    response = staff_client.post(
        URL,
        {
            "name": "Animals",
            "language": "es",
            "description": "Pets",
            "file": upload("term,meaning\ngato,cat\nperro,dog\n"),
        },
        follow=True,
    )

    word_list = WordList.objects.get(name="Animals")
    assert response.redirect_chain[-1][0] == reverse(
        "admin:tutor_wordlist_change", args=[word_list.pk]
    )
    assert "Created “Animals”: 2 added, 0 updated, 0 unchanged." in response.content.decode()
    assert list(word_list.words.values_list("term", flat=True)) == ["gato", "perro"]


def test_it_adds_to_an_existing_list(staff_client, spanish):
    response = staff_client.post(
        URL, {"word_list": spanish.pk, "file": upload("term;meaning\ngato;a cat\nsol;sun\n")}
    )

    assert response.status_code == 302
    assert spanish.words.get(term="gato").meaning == "a cat"
    assert spanish.words.filter(term="sol").exists()


def test_it_lists_the_bad_rows_and_imports_nothing(staff_client, spanish):
    before = list(Word.objects.values_list("pk", "term", "meaning"))

    response = staff_client.post(
        URL,
        {
            "word_list": spanish.pk,
            "file": upload(
                "term,meaning,part_of_speech\ngato,a cat,\n<b>x</b>,,\nsol,sun,planet\n"
            ),
        },
    )

    assert response.status_code == 200
    body = response.content.decode()
    assert "Nothing was imported: 2 problems found." in body
    assert "Row 3: meaning is blank." in body
    assert "Row 4: unknown part of speech “planet”" in body
    assert "<b>x</b>" not in body  # file contents are escaped
    assert list(Word.objects.values_list("pk", "term", "meaning")) == before


@pytest.mark.parametrize(
    "data, error",
    [
        ({"name": "Animals"}, "Choose the language of the new list."),
        ({}, "Choose a list to add to, or name a new one."),
        ({"name": "Animals", "language": "es", "word_list": "SPANISH"}, "not both"),
    ],
)
def test_it_checks_the_form(staff_client, spanish, data, error):
    data = {key: (spanish.pk if value == "SPANISH" else value) for key, value in data.items()}

    response = staff_client.post(URL, {**data, "file": upload("term,meaning\ngato,cat\n")})

    assert response.status_code == 200
    assert error in response.content.decode()
    assert not WordList.objects.filter(name="Animals").exists()


def test_it_needs_a_file(staff_client):
    response = staff_client.post(URL, {"name": "Animals", "language": "es"})

    assert "This field is required." in response.content.decode()
    assert not WordList.objects.exists()


def test_it_needs_the_csrf_token(staff):
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)

    response = client.post(
        URL, {"name": "Animals", "language": "es", "file": upload("term,meaning\ngato,cat\n")}
    )

    assert response.status_code == 403
    assert not WordList.objects.exists()


def test_staff_without_permission_to_add_lists_are_refused(db, django_user_model):
    teacher = django_user_model.objects.create_user(
        email="t@example.com", password="x", is_staff=True
    )
    client = Client()
    client.force_login(teacher)

    assert client.get(URL).status_code == 403
    assert (
        client.post(
            URL, {"name": "A", "language": "es", "file": upload("term,meaning\na,b\n")}
        ).status_code
        == 403
    )
    assert not WordList.objects.exists()


@pytest.mark.parametrize("who", ["alice", "anonymous"])
@pytest.mark.parametrize("method", ["get", "post"])
def test_learners_and_visitors_are_sent_to_the_admin_login(who, method, alice_client, client):
    visitor = alice_client if who == "alice" else client

    response = getattr(visitor, method)(
        URL,
        {"name": "Animals", "language": "es", "file": upload("term,meaning\na,b\n")}
        if method == "post"
        else {},
    )

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    assert not WordList.objects.exists()


def test_a_nul_in_a_cell_is_reported_not_a_server_error(staff_client, spanish):
    response = staff_client.post(
        URL,
        {"name": "Animals", "language": "es", "file": upload("term,meaning\ngato,cat\nperro,d\x00og\n")},
    )

    assert response.status_code == 200
    assert "Row 3: meaning contains a character that cannot be stored" in response.content.decode()
    assert not WordList.objects.filter(name="Animals").exists()


def test_adding_to_a_learners_own_list_adds_to_that_list(staff_client, alice, spanish):
    own = WordList.objects.create(name=spanish.name, language="es", owner=alice)
    response = staff_client.post(URL, {"word_list": own.pk, "file": upload("term,meaning\nsol,sun\n")})
    assert response.status_code == 302
    assert list(own.words.values_list("term", flat=True)) == ["sol"]
    assert not spanish.words.filter(term="sol").exists()


def test_a_learners_own_list_cannot_be_assigned_to_another_learner(staff_client, alice, bob):
    own = WordList.objects.create(name="Alice's words", language="es", owner=alice)
    response = staff_client.post(
        "/admin/tutor/assignment/add/", {"learner": bob.pk, "word_list": own.pk, "assigned_at_0": "2026-03-01", "assigned_at_1": "10:00"}
    )
    assert response.status_code == 200 and "cannot be given to anyone else" in response.content.decode()
    assert not own.assignments.exists()


@pytest.mark.parametrize("header", ["example", "example_sentence", "Example sentence", "EXAMPLE-SENTENCE"])
def test_it_accepts_the_common_spellings_of_the_example_column(staff_client, spanish, header):
    response = staff_client.post(
        URL,
        {"word_list": spanish.pk, "file": upload(f"Term,Meaning,{header}\nluna,moon,La luna brilla.\n")},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Word.objects.get(word_list=spanish, term="luna").example == "La luna brilla."


def test_it_offers_a_template_that_imports_as_it_is(staff_client, spanish):
    page = staff_client.get(URL).content.decode()
    assert 'href="/admin/tutor/wordlist/import/template.csv"' in page
    template = staff_client.get("/admin/tutor/wordlist/import/template.csv")
    assert template["Content-Type"].startswith("text/csv")
    response = staff_client.post(URL, {"word_list": spanish.pk, "file": upload(template.content.decode())})
    assert response.status_code == 302
    assert Word.objects.filter(word_list=spanish, term="correr").exists()


def test_the_chosen_list_is_kept_after_an_error(staff_client, spanish):
    response = staff_client.post(URL, {"word_list": spanish.pk, "file": upload("term,meaning\ngato,\n")})
    assert response.status_code == 200
    assert f'<option value="{spanish.pk}" selected>' in response.content.decode()


def test_the_list_can_be_chosen_from_the_link(staff_client, spanish):
    response = staff_client.get(f"{URL}?word_list={spanish.pk}")
    assert f'<option value="{spanish.pk}" selected>' in response.content.decode()

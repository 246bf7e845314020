"""The admin is the staff tool: it renders for staff and is closed to learners."""

import pytest
from django.urls import reverse

from tutor.models import ConversationItem, TutorSession

pytestmark = pytest.mark.django_db

MODELS = [
    "accounts/user",
    "tutor/wordlist",
    "tutor/word",
    "tutor/assignment",
    "tutor/wordprogress",
    "tutor/testresult",
    "tutor/tutorsession",
    "tutor/conversationitem",
    "tutor/review",
    "tutor/oralquiz",
]


@pytest.fixture
def session_with_items(alice):
    session = TutorSession.objects.create(learner=alice, model="gpt-realtime", voice="marin", instructions="Be kind.")
    ConversationItem.objects.create(session=session, item_id="item_b", role="assistant", text="¡Hola Alice!", order=2)
    ConversationItem.objects.create(session=session, item_id="item_a", role="user", text="Hola", order=1)
    return session


@pytest.mark.parametrize("model", MODELS)
def test_staff_see_every_changelist_and_add_form(staff_client, model, alice_words, session_with_items):
    assert staff_client.get(f"/admin/{model}/").status_code == 200
    if model not in {"tutor/conversationitem"}:
        assert staff_client.get(f"/admin/{model}/add/").status_code == 200


@pytest.mark.parametrize("model", MODELS)
def test_learners_are_refused_every_admin_page(alice_client, model):
    response = alice_client.get(f"/admin/{model}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_anonymous_visitors_are_sent_to_the_admin_login(client):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_a_sessions_transcript_shows_its_items_in_order(staff_client, session_with_items):
    url = reverse("admin:tutor_tutorsession_transcript", args=[session_with_items.pk])
    body = staff_client.get(url).content.decode()
    assert body.index("Hola") < body.index("¡Hola Alice!")
    # read-only: no form for items
    assert "<form" not in body.split('id="content-main"')[1]


def test_the_changelist_search_finds_a_learner(staff_client, alice, bob):
    body = staff_client.get("/admin/accounts/user/?q=alice").content.decode()
    assert alice.email in body and bob.email not in body


def test_staff_can_list_only_the_flagged_items(staff_client, session_with_items):
    session_with_items.items.filter(item_id="item_b").update(flagged=True, flag_reason="blocked term: x")
    body = staff_client.get("/admin/tutor/conversationitem/?flagged__exact=1").content.decode()
    assert "¡Hola Alice!" in body and ">Hola<" not in body
    assert "flagged items" in body.lower()

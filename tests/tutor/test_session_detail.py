import pytest

from tutor.models import TutorSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def alices_session(alice):
    session = TutorSession.objects.create(learner=alice, model="gpt-realtime", voice="marin", instructions="")
    session.items.create(item_id="item_2", role="assistant", text="¿Tienes un gato?", order=1)
    session.items.create(item_id="item_1", role="user", text="Hola, tengo un perro", order=0)
    return session


def test_a_learner_reads_their_transcript_in_order(alice_client, alices_session):
    body = alice_client.get(f"/sessions/{alices_session.pk}/").content.decode()
    assert body.index("Hola, tengo un perro") < body.index("¿Tienes un gato?")


def test_it_checks_ownership(bob_client, alices_session):
    assert bob_client.get(f"/sessions/{alices_session.pk}/").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, alices_session):
    response = client.get(f"/sessions/{alices_session.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]

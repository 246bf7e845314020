import re

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


def test_tool_activity_is_a_chip_with_its_raw_call_behind_details_never_a_turn(alice_client, alices_session):
    call = '{"word": "gato", "outcome": "correct"}'
    output = '{"recorded": true, "word": "gato", "outcome": "correct", "next_review_in_days": 105}'
    alices_session.items.create(
        item_id="item_3", role="assistant", kind="function_call", order=2,
        text=f"record_word_practice({call})", raw={"call_id": "call_1", "name": "record_word_practice", "arguments": call},
    )
    alices_session.items.create(
        item_id="item_4", role="tool", kind="function_call_output", order=3,
        text=output, raw={"call_id": "call_1", "output": output},
    )
    body = alice_client.get(f"/sessions/{alices_session.pk}/").content.decode()

    turns = re.findall(r'<li class="turn [^"]*"', body)
    assert len(turns) == 2  # the two messages; the call and its output are one chip
    assert body.count("data-activity") == 1
    assert "✓ gato practised" in body
    chip = body[body.index("data-activity"):]
    chip = chip[: chip.index("</li>")]
    assert "<details>" in chip and "next_review_in_days" in chip  # raw, behind the toggle
    before_chip = body[: body.index("data-activity")]
    assert "next_review_in_days" not in before_chip


def test_turns_are_marked_with_the_target_language(alice_client, alices_session):
    body = alice_client.get(f"/sessions/{alices_session.pk}/").content.decode()
    assert re.search(r'<span class="text" lang="es">Hola, tengo un perro</span>', body)

import datetime as dt

import pytest
from django.utils import timezone

from tutor.models import TutorSession, Word
from tutor.practice import word_practice_record

pytestmark = pytest.mark.django_db


@pytest.fixture
def ended_session(alice, alice_words):
    now = timezone.now()
    session = TutorSession.objects.create(
        learner=alice,
        model="gpt-realtime",
        voice="marin",
        instructions="",
        status=TutorSession.Status.ENDED,
        focus_words=["gato", "perro", "casa"],
        connected_at=now - dt.timedelta(minutes=4),
        ended_at=now,
    )
    session.items.create(item_id="item_1", role="user", text="Tengo un gato", order=0)
    word_practice_record(
        learner=alice, word=Word.objects.get(term="perro"), outcome="incorrect", source="voice", session=session
    )
    return session


def test_the_session_page_opens_with_the_recap(alice_client, ended_session):
    response = alice_client.get(f"/sessions/{ended_session.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.index("Session recap") < body.index("Transcript")
    recap = response.context["recap"]
    assert [w.term for w in recap.practised] == ["gato", "perro"]
    assert [w.term for w in recap.missed] == ["perro"]
    assert [w.term for w in recap.not_reached] == ["casa"]
    assert 'data-recap-stat="minutes">4.0<' in body and "Session length" in body
    assert 'data-recap-stat="speaking">—<' in body and "Speaking time: not measured" in body
    assert 'data-recap-stat="practised">2<' in body and "words practised" in body
    assert 'data-recap-stat="missed">1<' in body and "1</span><span class=\"stat-label\">word missed" in body
    assert 'data-recap-list="not-reached"' in body and 'data-recap-list="next-up"' in body
    assert "in 1 min" in body  # perro, missed: back in a minute


def test_a_measured_typed_only_session_shows_zero_speaking_time(alice_client, ended_session):
    ended_session.speaking_seconds = 0
    ended_session.save()
    body = alice_client.get(f"/sessions/{ended_session.pk}/").content.decode()
    assert 'data-recap-stat="speaking">0.0<' in body and "not measured" not in body


def test_the_dashboard_links_each_session_to_its_recap(alice_client, ended_session):
    body = alice_client.get("/").content.decode()
    assert f'href="/sessions/{ended_session.pk}/">Recap<' in body


def test_the_dashboard_counts_words_practised_as_the_recap_does(alice_client, ended_session):
    # perro from the tutor's recording, gato from what the learner said.
    session = alice_client.get("/").context["history"].sessions[0]
    assert session.words_practised == 2


def test_it_checks_ownership(bob_client, ended_session):
    assert bob_client.get(f"/sessions/{ended_session.pk}/").status_code == 404


def test_anonymous_visitors_are_sent_to_sign_in(client, ended_session):
    response = client.get(f"/sessions/{ended_session.pk}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_an_oral_quiz_grade_is_on_the_recap_and_the_dashboard(alice_client, alice, ended_session):
    from voice.tools.quiz import oral_quiz_answer, oral_quiz_start

    oral_quiz_start(learner=alice, session=ended_session)
    for word, outcome in zip(["gato", "perro", "casa", "agua"], ["correct", "correct", "incorrect", "correct"]):
        oral_quiz_answer(learner=alice, session=ended_session, word=word, outcome=outcome)
    body = alice_client.get(f"/sessions/{ended_session.pk}/").content.decode()
    assert 'data-recap-stat="quiz">3/4<' in body and "oral quiz" in body
    dashboard = alice_client.get("/").content.decode()
    assert "voice quiz" in dashboard and "<strong>3/4</strong>" in dashboard


def test_the_recap_page_says_clear_unclear_and_a_quiz_answer_that_did_not_reschedule(alice_client, alice, ended_session):
    from voice.tools.quiz import oral_quiz_answer, oral_quiz_start

    word_practice_record(  # missed, so due again when the quiz starts
        learner=alice, word=Word.objects.get(term="gato"), outcome="incorrect", clear=True, source="voice",
        session=ended_session, now=timezone.now() - dt.timedelta(minutes=5),
    )
    word_practice_record(
        learner=alice, word=Word.objects.get(term="casa"), outcome="correct", clear=False, source="voice",
        session=ended_session, now=timezone.now() - dt.timedelta(minutes=2),
    )
    oral_quiz_start(learner=alice, session=ended_session)
    oral_quiz_answer(learner=alice, session=ended_session, word="gato", outcome="correct")

    body = alice_client.get(f"/sessions/{ended_session.pk}/").content.decode()
    assert '<span data-clarity="clear">said clearly</span>' in body
    assert '<span data-clarity="unclear">said unclearly</span>' in body
    assert body.count("data-clarity=") == 2  # perro's clarity is not known
    assert "quiz answer counted in the grade, schedule unchanged" in body

"""The output guardrail: blocked terms, moderation, and the socket's streaming checks."""

import json

import httpx
import pytest

from tests.voice.test_conversation_consumer import ask, item, open_socket, session_cookie
from voice import guardrail, realtime
from tutor.models import ConversationItem, TutorSession


def test_it_matches_blocked_terms_as_whole_words_ignoring_case_and_accents():
    terms = ["mierda", "kill yourself", "ñoño"]
    assert guardrail.terms_check("¡Qué MIERDA!", terms).tripped
    assert guardrail.terms_check("you should   kill\nyourself", terms).reason == "blocked term: kill yourself"
    assert guardrail.terms_check("es un nono", terms).tripped
    assert not guardrail.terms_check("mierdas no, smierda no", terms).tripped
    assert not guardrail.terms_check("Hola, ¿qué tal?", terms).tripped
    assert not guardrail.terms_check("anything", []).tripped


def test_the_policy_comes_from_settings(settings):
    settings.GUARDRAIL_BLOCKED_TERMS = ["offline stand-in"]
    assert guardrail.terms_check("I am the Parlance offline stand-in.").tripped
    settings.GUARDRAIL_BLOCKED_TERMS = []
    assert not guardrail.terms_check("I am the Parlance offline stand-in.").tripped


async def test_moderation_runs_only_with_a_key_and_the_setting(settings, monkeypatch):
    calls = []

    async def fake_check(*, text, base_url, api_key):
        calls.append((text, api_key))
        return ["harassment"]

    monkeypatch.setattr(realtime, "moderation_check", fake_check)
    settings.GUARDRAIL_BLOCKED_TERMS = []
    settings.GUARDRAIL_MODERATION = True
    settings.OPENAI_API_KEY = ""
    assert not (await guardrail.output_check("some text")).tripped
    settings.OPENAI_API_KEY = "sk-test"
    verdict = await guardrail.output_check("some text")
    assert verdict == guardrail.Verdict(True, "moderation: harassment")
    assert calls == [("some text", "sk-test")]


async def test_moderation_being_down_does_not_silence_the_tutor(settings, monkeypatch):
    async def failing(**kwargs):
        raise realtime.RealtimeError("down", 503, "upstream_unreachable")

    monkeypatch.setattr(realtime, "moderation_check", failing)
    settings.GUARDRAIL_BLOCKED_TERMS, settings.GUARDRAIL_MODERATION, settings.OPENAI_API_KEY = [], True, "sk-test"
    assert not (await guardrail.output_check("text")).tripped


async def test_moderation_check_reads_openais_answer():
    def answer(request):
        assert request.headers["Authorization"] == "Bearer sk-test"
        assert json.loads(request.content)["input"] == "bad words"
        return httpx.Response(200, json={"results": [{"flagged": True, "categories": {"hate": True, "violence": False}}]})

    categories = await realtime.moderation_check(
        text="bad words", base_url="https://api.example/v1", api_key="sk-test", transport=httpx.MockTransport(answer)
    )
    assert categories == ["hate"]
    with pytest.raises(realtime.RealtimeError):
        await realtime.moderation_check(
            text="x", base_url="https://api.example/v1", api_key="k",
            transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"nope": 1})),
        )


@pytest.fixture
def guarded_session(db, alice, alice_words, settings):
    settings.GUARDRAIL_BLOCKED_TERMS = ["idiota"]
    return TutorSession.objects.create(learner=alice, model="gpt-realtime", voice="marin", instructions="")


@pytest.fixture
def cookie(alice):
    return session_cookie(alice)


@pytest.mark.django_db(transaction=True)
async def test_a_streamed_check_that_trips_tells_the_page(guarded_session, cookie):
    async with open_socket(guarded_session.pk, cookie) as socket:
        reply = await ask(socket, {"type": "check", "item_id": "item_9", "text": "Eres un idiota"})
        assert reply == {"type": "guardrail", "item_id": "item_9", "tripped": True, "message": guardrail.WITHHELD}
        await socket.send_json_to({"type": "check", "item_id": "item_9", "text": "Eres muy amable"})
        assert await socket.receive_nothing(timeout=0.3)


@pytest.mark.django_db(transaction=True)
async def test_a_saved_reply_with_a_blocked_term_is_flagged_for_staff(guarded_session, cookie):
    async with open_socket(guarded_session.pk, cookie) as socket:
        flagged = await ask(socket, item("item_1", "Eres un idiota", role="assistant"))
        clean = await ask(socket, item("item_2", "Muy bien", role="assistant", order=1))
        learner = await ask(socket, item("item_3", "idiota", role="user", order=2))
    assert flagged == {"type": "ack", "item_id": "item_1", "flagged": True, "message": guardrail.WITHHELD}
    assert clean == {"type": "ack", "item_id": "item_2"} and learner == {"type": "ack", "item_id": "item_3"}
    saved = {i.item_id: i async for i in ConversationItem.objects.filter(session=guarded_session)}
    assert saved["item_1"].flagged and saved["item_1"].flag_reason == "blocked term: idiota"
    assert saved["item_1"].text == "Eres un idiota"  # kept whole for staff
    assert not saved["item_2"].flagged and not saved["item_3"].flagged


@pytest.mark.django_db(transaction=True)
async def test_a_malformed_check_is_refused_without_naming_an_item(guarded_session, cookie):
    async with open_socket(guarded_session.pk, cookie) as socket:
        reply = await ask(socket, {"type": "check", "item_id": "item_1", "text": 5})
    assert reply["type"] == "error" and reply["code"] == "invalid" and "item_id" not in reply

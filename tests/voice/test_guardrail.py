"""The output guardrail: blocked terms, moderation, and the socket's streaming checks."""

import json

import httpx
import pytest
import respx
from django.core.cache import caches

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


@pytest.mark.parametrize(
    "answer, code",
    [
        (httpx.Response(429, json={"error": {"code": "rate_limit_exceeded"}}), "upstream_rate_limited"),
        (httpx.Response(500), "upstream_unavailable"),
        (httpx.Response(503, text="busy"), "upstream_unavailable"),
        (httpx.TimeoutException("slow"), "upstream_timeout"),
        (httpx.Response(200, json={"nope": 1}), "upstream_malformed"),
        (httpx.Response(200, text="not json"), "upstream_malformed"),
    ],
    ids=["429", "500", "503", "timeout", "malformed", "not json"],
)
async def test_moderation_failing_trips_the_check(moderation, answer, code):
    moderation.mock(side_effect=answer) if isinstance(answer, Exception) else moderation.mock(return_value=answer)

    verdict = await guardrail.output_check("some flagged text")

    assert verdict.tripped and verdict.reason == f"moderation unavailable: {code}"
    assert verdict.message == guardrail.UNCHECKED
    assert moderation.call_count == 1


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


MODERATIONS = "https://moderation.test/v1/moderations"
CLEAN = {"results": [{"flagged": False, "categories": {}}]}


@pytest.fixture
def moderation(settings):
    """Moderation on, its endpoint mocked (never the network); the route counts the calls."""
    settings.GUARDRAIL_MODERATION, settings.OPENAI_API_KEY = True, "sk-test"
    settings.OPENAI_BASE_URL = "https://moderation.test/v1"
    caches["limits"].clear()
    with respx.mock(assert_all_called=False) as router:
        yield router.post(MODERATIONS).mock(return_value=httpx.Response(200, json=CLEAN))
    caches["limits"].clear()


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


# --- moderation over the socket: fails closed, bounded ---------------------------------


@pytest.mark.django_db(transaction=True)
async def test_moderation_down_holds_back_the_streamed_and_the_saved_reply(guarded_session, cookie, moderation):
    moderation.mock(return_value=httpx.Response(429, json={"error": {"code": "rate_limit_exceeded"}}))
    async with open_socket(guarded_session.pk, cookie) as socket:
        streamed = await ask(socket, {"type": "check", "item_id": "item_1", "text": "Something flagged"})
        saved = await ask(socket, item("item_1", "Something flagged", role="assistant"))

    assert streamed == {"type": "guardrail", "item_id": "item_1", "tripped": True, "message": guardrail.UNCHECKED}
    assert saved == {"type": "ack", "item_id": "item_1", "flagged": True, "message": guardrail.UNCHECKED}
    flagged = await ConversationItem.objects.aget(session=guarded_session, item_id="item_1")
    assert flagged.flagged and flagged.flag_reason == "moderation unavailable: upstream_rate_limited"


@pytest.mark.django_db(transaction=True)
async def test_a_socket_asks_moderation_at_most_its_limit(guarded_session, cookie, moderation, settings):
    settings.GUARDRAIL_CHECKS_PER_MINUTE_PER_SOCKET = 5
    async with open_socket(guarded_session.pk, cookie) as socket:
        for n in range(300):
            await socket.send_json_to({"type": "check", "item_id": "item_1", "text": f"Hola {n}"})
        replies = [await socket.receive_json_from(timeout=5) for _ in range(295)]
        # Past the limit the blocked terms still apply, without an upstream call.
        tripped = await ask(socket, {"type": "check", "item_id": "item_2", "text": "Eres un idiota"})
        assert await socket.receive_nothing(timeout=0.2)

    assert moderation.call_count == 5
    assert {(r["type"], r["code"]) for r in replies} == {("error", "rate_limited")}
    assert all("item_id" not in r for r in replies)  # the page keeps the item queued
    assert tripped["type"] == "guardrail" and tripped["message"] == guardrail.WITHHELD


@pytest.mark.django_db(transaction=True)
async def test_a_learners_sockets_share_one_limit(guarded_session, cookie, moderation, settings):
    settings.GUARDRAIL_CHECKS_PER_MINUTE_PER_SOCKET = 10
    settings.GUARDRAIL_CHECKS_PER_MINUTE_PER_LEARNER = 6
    async def checks(socket, name):
        """Five checks, then a blocked term (answered without moderation) to know they are done."""
        for n in range(5):
            await socket.send_json_to({"type": "check", "item_id": name, "text": f"Hola {n}"})
        await socket.send_json_to({"type": "check", "item_id": name, "text": "idiota"})
        replies = []
        while not replies or replies[-1]["type"] != "guardrail":
            replies.append(await socket.receive_json_from(timeout=5))
        return [r["code"] for r in replies[:-1]]

    async with open_socket(guarded_session.pk, cookie) as first, open_socket(guarded_session.pk, cookie) as second:
        assert await checks(first, "item_1") == []
        assert await checks(second, "item_2") == ["rate_limited"] * 4
        # A saved reply the learner's limit left unchecked is held back too (fails closed).
        saved = await ask(first, item("item_9", "Muy bien", role="assistant"))

    assert moderation.call_count == 6
    assert saved == {"type": "ack", "item_id": "item_9", "flagged": True, "message": guardrail.UNCHECKED}
    held = await ConversationItem.objects.aget(session=guarded_session, item_id="item_9")
    assert held.flag_reason == "moderation skipped: check limit reached"


def test_a_sockets_window_frees_up_after_a_minute(settings):
    settings.GUARDRAIL_CHECKS_PER_MINUTE_PER_SOCKET = 2
    now = [100.0]
    window = guardrail.CheckWindow(clock_s=lambda: now[0])
    assert window.take() and window.take() and not window.take()
    now[0] += 60.5
    assert window.take()

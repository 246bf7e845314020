import asyncio
import datetime as dt
import json
import logging
import time

import httpx
import pytest
import respx
from asgiref.sync import iscoroutinefunction
from django.test import Client
from django.utils import timezone

from tutor.models import ConversationItem, MintEvent, TutorSession
from voice.views import realtime_token

pytestmark = pytest.mark.django_db

URL = "/tutor/token/"
STANDIN_KEY = "sk-standin-test-key-42"
OPENAI_KEY = "sk-openai-test-key-99"
STANDIN_SECRETS = "http://testserver/standin/v1/realtime/client_secrets"
GOOD = {"value": "ek_browser_key", "expires_at": 1767225600, "session": {"type": "realtime"}}


@pytest.fixture
def upstream(settings):
    """The stand-in on this server, faked at the HTTP layer."""
    settings.REALTIME_BASE_URL = ""
    settings.STANDIN_API_KEY = STANDIN_KEY
    settings.OPENAI_API_KEY = ""
    settings.REALTIME_TOKEN_TTL_SECONDS = 45
    with respx.mock(assert_all_called=False) as router:
        yield router.post(STANDIN_SECRETS).mock(return_value=httpx.Response(200, json=GOOD))


def post(client, body=None, **extra):
    data = b"" if body is None else body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(URL, data=data, content_type="application/json", **extra)


def sent_body(route):
    return json.loads(route.calls.last.request.content)


def test_the_view_is_async():
    assert iscoroutinefunction(realtime_token)


def test_it_mints_a_key_and_starts_a_session(alice_client, alice, alice_words, upstream, settings):
    response = post(alice_client)

    assert response.status_code == 200
    assert response["Cache-Control"].startswith("max-age=0")
    session = TutorSession.objects.get(learner=alice)
    assert response.json() == {
        "call_setup": "browser",
        "client_secret": "ek_browser_key",
        "expires_at": 1767225600,
        "expires_in": 0,  # that moment has passed
        "session_id": session.pk,
        "calls_url": "/standin/v1/realtime/calls",
        "model": settings.REALTIME_MODEL,
        "voice": settings.REALTIME_VOICE,
        "socket_url": f"/ws/tutor/sessions/{session.pk}/",
        "server_tools": settings.REALTIME_SIDEBAND,  # on by default: the server runs the tools
        # The session's focus words with their meanings, for the page's list.
        "focus_words": [
            {"term": "gato", "meaning": "cat"},
            {"term": "perro", "meaning": "dog"},
            {"term": "casa", "meaning": "house"},
            {"term": "agua", "meaning": "water"},
        ],
    }
    assert session.status == TutorSession.Status.MINTED
    assert (session.model, session.voice) == (settings.REALTIME_MODEL, settings.REALTIME_VOICE)
    assert session.focus_words == ["gato", "perro", "casa", "agua"]
    assert "\nFocus words: gato, perro, casa, agua\n" in session.instructions

    request = upstream.calls.last.request
    assert request.headers["authorization"] == f"Bearer {STANDIN_KEY}"
    body = json.loads(request.content)
    assert body["expires_after"] == {"anchor": "created_at", "seconds": 45}
    assert body["session"]["instructions"] == session.instructions
    assert body["session"]["audio"]["input"]["transcription"]["language"] == "es"


def test_it_tells_the_page_how_long_the_key_lives_by_the_servers_clock(alice_client, upstream):
    expires_at = int(time.time()) + 600
    upstream.mock(return_value=httpx.Response(200, json={**GOOD, "expires_at": expires_at}))
    answer = post(alice_client).json()
    assert answer["expires_at"] == expires_at
    assert 598 <= answer["expires_in"] <= 600


def test_the_server_key_never_reaches_the_page_or_the_log(alice_client, alice_words, upstream, caplog):
    with caplog.at_level(logging.DEBUG):
        response = post(alice_client)
    assert STANDIN_KEY not in response.content.decode()
    assert STANDIN_KEY not in caplog.text


def test_it_remints_a_key_for_a_reconnect_to_the_same_session(alice_client, alice, upstream):
    session = TutorSession.objects.create(
        learner=alice, status="live", model="gpt-realtime-mini", voice="cedar",
        instructions="Be kind.\nFocus words: gato", focus_words=["gato"],
    )
    response = post(alice_client, {"session_id": session.pk})

    assert response.status_code == 200
    assert response.json()["session_id"] == session.pk
    assert (response.json()["model"], response.json()["voice"]) == ("gpt-realtime-mini", "cedar")
    assert TutorSession.objects.count() == 1
    config = sent_body(upstream)["session"]
    assert (config["instructions"], config["model"]) == ("Be kind.\nFocus words: gato", "gpt-realtime-mini")
    # The session's own focus words; alice has no list with "gato", so it has no meaning.
    assert response.json()["focus_words"] == [{"term": "gato", "meaning": ""}]
    assert config["audio"]["output"]["voice"] == "cedar"


def test_it_checks_ownership_of_the_session(alice_client, bob, upstream):
    session = TutorSession.objects.create(learner=bob, model="m", voice="v", instructions="")
    response = post(alice_client, {"session_id": session.pk})

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not upstream.called


@pytest.mark.parametrize("session_id", [987654, 2**70])
def test_a_missing_session_is_not_found(alice_client, upstream, session_id):
    assert post(alice_client, {"session_id": session_id}).status_code == 404


def test_an_ended_session_cannot_be_reconnected(alice_client, alice, upstream):
    session = TutorSession.objects.create(learner=alice, status="ended", model="m", voice="v", instructions="")
    response = post(alice_client, {"session_id": session.pk})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "session_ended"
    assert not upstream.called


@pytest.mark.parametrize(
    "body",
    [b"not json", b"[1]", b'"x"', {"session_id": "1"}, {"session_id": True}, {"session_id": 0},
     {"session_id": -3}, {"session_id": 1.5}],
)
def test_it_refuses_a_malformed_body(alice_client, upstream, body):
    response = post(alice_client, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert not upstream.called
    assert not TutorSession.objects.exists()


def test_an_empty_object_starts_a_new_session(alice_client, alice, upstream):
    assert post(alice_client, {}).status_code == 200
    assert TutorSession.objects.filter(learner=alice).count() == 1


def test_anonymous_visitors_get_401_json(client, upstream):
    response = post(client)
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": "Please sign in to talk with the tutor.", "code": "not_authenticated"}
    }
    assert not upstream.called


def test_it_only_answers_post(alice_client, upstream):
    assert alice_client.get(URL).status_code == 405
    assert not upstream.called


def test_it_checks_the_csrf_token(alice, alice_words, upstream):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert post(client).status_code == 403
    assert not upstream.called

    token = "a" * 32
    client.cookies["csrftoken"] = token
    assert post(client, HTTP_X_CSRFTOKEN=token).status_code == 200


@pytest.mark.parametrize(
    "answer, status, code",
    [
        (httpx.Response(401, json={"error": {"message": f"Incorrect API key provided: {STANDIN_KEY}"}}), 502, "upstream_auth"),
        (httpx.Response(403, json={}), 502, "upstream_auth"),
        (httpx.Response(429, json={}), 429, "upstream_rate_limited"),
        (httpx.Response(500, text="oops"), 503, "upstream_unavailable"),
        (httpx.Response(503, text="oops"), 503, "upstream_unavailable"),
        (httpx.ReadTimeout("slow"), 503, "upstream_timeout"),
        (httpx.ConnectError("refused"), 503, "upstream_unreachable"),
        (httpx.Response(200, text="<html>"), 502, "upstream_malformed"),
        (httpx.Response(200, json={"value": STANDIN_KEY, "expires_at": 1}), 502, "upstream_malformed"),
    ],
)
def test_an_upstream_failure_is_a_json_error_without_the_key(
    alice_client, alice, alice_words, upstream, caplog, answer, status, code
):
    upstream.mock(side_effect=answer) if isinstance(answer, Exception) else upstream.mock(return_value=answer)
    with caplog.at_level(logging.DEBUG):
        response = post(alice_client)

    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and error["message"]
    assert STANDIN_KEY not in response.content.decode()
    assert STANDIN_KEY not in caplog.text
    assert not TutorSession.objects.exists()


def test_a_failed_remint_leaves_the_live_session_alone(alice_client, alice, upstream):
    session = TutorSession.objects.create(learner=alice, status="live", model="m", voice="v", instructions="")
    upstream.mock(return_value=httpx.Response(502, text="bad gateway"))

    assert post(alice_client, {"session_id": session.pk}).status_code == 503
    session.refresh_from_db()
    assert session.status == TutorSession.Status.LIVE
    # No key was issued, so the session owes no reported call for it.
    assert session.keys_unreported == 0


def test_every_key_minted_is_owed_a_reported_call(alice_client, alice, upstream):
    session_id = post(alice_client).json()["session_id"]
    assert post(alice_client, {"session_id": session_id}).status_code == 200
    assert TutorSession.objects.get(pk=session_id).keys_unreported == 2


def test_it_uses_openai_with_the_server_key_when_configured(alice_client, alice_words, settings, caplog):
    settings.REALTIME_BASE_URL = "https://api.example.test/v1"
    settings.OPENAI_API_KEY = OPENAI_KEY
    with respx.mock() as router:
        route = router.post("https://api.example.test/v1/realtime/client_secrets").mock(
            return_value=httpx.Response(200, json=GOOD)
        )
        with caplog.at_level(logging.DEBUG):
            response = post(alice_client)

    assert response.status_code == 200
    assert response.json()["calls_url"] == "https://api.example.test/v1/realtime/calls"
    assert route.calls.last.request.headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert OPENAI_KEY not in response.content.decode() and OPENAI_KEY not in caplog.text


def test_it_says_so_when_the_tutor_is_not_configured(alice_client, settings):
    settings.REALTIME_BASE_URL = "https://api.example.test/v1"
    settings.OPENAI_API_KEY = ""
    settings.STANDIN_API_KEY = ""
    with respx.mock(assert_all_called=False):
        response = post(alice_client)
    assert response.status_code == 503
    assert response.json()["error"] == {"message": "The tutor is not configured.", "code": "not_configured"}
    assert not TutorSession.objects.exists()


@pytest.fixture
def alice_cookies(transactional_db, alice):
    client = Client()
    client.force_login(alice)
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": "c" * 32}


@pytest.mark.django_db(transaction=True)
async def test_slow_upstream_calls_do_not_hold_up_other_requests(alice_cookies, upstream, settings):
    settings.TUTOR_MAX_LIVE_SESSIONS = 4
    settings.TUTOR_MAX_SESSION_MINUTES = 1  # concurrent sessions share the day: each takes a minute

    async def slow(request):
        await asyncio.sleep(0.5)
        return httpx.Response(200, json=GOOD)

    upstream.mock(side_effect=slow)
    from config.asgi import application

    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=application), base_url="http://testserver",
        cookies=alice_cookies, headers={"X-CSRFToken": "c" * 32},
    ) as client:
        started = time.monotonic()
        responses = await asyncio.gather(*(client.post(URL) for _ in range(4)))
        elapsed = time.monotonic() - started

    assert [response.status_code for response in responses] == [200] * 4
    assert len({response.json()["session_id"] for response in responses}) == 4
    assert elapsed < 1.5


# --- limits -------------------------------------------------------------------------------


def live_session(learner, **fields):
    now = timezone.now()
    return TutorSession.objects.create(
        learner=learner, status="live", model="gpt-realtime-mini", voice="cedar",
        instructions="Be kind.\nFocus words: gato", focus_words=["gato"],
        **{"minted_at": now - dt.timedelta(minutes=2), **fields},
        connected_at=now - dt.timedelta(minutes=2), hangup_at=now + dt.timedelta(minutes=18),
    )


def test_the_sixth_mint_in_a_minute_is_refused_with_429(alice_client, alice, upstream, settings):
    settings.TUTOR_MAX_LIVE_SESSIONS = 10
    settings.TUTOR_MAX_SESSION_MINUTES = 1  # concurrent sessions share the day: each takes a minute
    assert [post(alice_client).status_code for _ in range(5)] == [200] * 5

    response = post(alice_client)
    assert response.status_code == 429
    assert response.json()["error"]["code"] == "rate_limited"
    assert upstream.call_count == 5
    assert TutorSession.objects.count() == 5


def test_resumes_count_toward_the_mint_rate(alice_client, alice, upstream):
    session = live_session(alice)
    assert [post(alice_client, {"session_id": session.pk}).status_code for _ in range(6)] == [200] * 5 + [429]
    assert MintEvent.objects.filter(session=session).count() == 5


def test_a_second_live_session_is_refused_with_403(alice_client, alice, upstream):
    open_session = live_session(alice)
    response = post(alice_client)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "session_live"
    assert "already have a session open" in response.json()["error"]["message"]
    # The page may offer to continue that session instead.
    assert response.json()["error"]["session_id"] == open_session.pk
    assert not upstream.called
    assert TutorSession.objects.count() == 1


def test_a_used_up_day_is_refused_with_403_and_a_message_the_page_shows(alice_client, alice, upstream):
    now = timezone.now()
    TutorSession.objects.create(
        learner=alice, status="ended", model="m", voice="v", instructions="",
        minted_at=now - dt.timedelta(minutes=21), connected_at=now - dt.timedelta(minutes=21),
        ended_at=now - dt.timedelta(seconds=30),
    )
    response = post(alice_client)
    assert response.status_code == 403
    assert response.json() == {
        "error": {"message": "You have used today's 20 minutes.", "code": "minutes_used"}
    }
    assert not upstream.called


def test_a_session_ended_at_its_time_limit_cannot_be_resumed(alice_client, alice, upstream):
    now = timezone.now()
    session = TutorSession.objects.create(
        learner=alice, status="ended", end_reason="time_limit", model="m", voice="v", instructions="",
        connected_at=now - dt.timedelta(minutes=20), hangup_at=now, ended_at=now,
    )
    response = post(alice_client, {"session_id": session.pk})
    assert response.status_code == 403
    assert response.json()["error"] == {"message": "You have used today's 20 minutes.", "code": "time_limit"}
    assert not upstream.called


def test_a_failed_mint_still_counts_but_leaves_no_session(alice_client, alice, alice_words, upstream):
    upstream.mock(return_value=httpx.Response(503, text="down"))
    assert post(alice_client).status_code == 503
    assert not TutorSession.objects.exists()
    assert MintEvent.objects.filter(learner=alice, session=None).count() == 1


def test_the_mint_records_where_the_key_came_from(alice_client, alice, upstream):
    post(alice_client)
    assert TutorSession.objects.get(learner=alice).upstream_base_url == "http://testserver/standin/v1"


# --- resume -------------------------------------------------------------------------------


def test_a_resume_gives_the_tutor_a_recap_of_the_saved_turns(alice_client, alice, upstream):
    session = live_session(alice)
    for order, (role, text) in enumerate(
        [("assistant", "¡Hola! ¿Cómo se dice cat?"), ("user", "el gato"), ("assistant", "¡Muy bien! Y dog?")]
    ):
        ConversationItem.objects.create(session=session, item_id=f"item_{order}", role=role, text=text, order=order)

    assert post(alice_client, {"session_id": session.pk}).status_code == 200

    instructions = sent_body(upstream)["session"]["instructions"]
    assert instructions.startswith("Be kind.\nFocus words: gato\n")
    assert "carry on the conversation from where it stopped" in instructions
    assert instructions.endswith(
        "- Tutor: ¡Hola! ¿Cómo se dice cat?\n- Learner: el gato\n- Tutor: ¡Muy bien! Y dog?"
    )
    session.refresh_from_db()
    assert session.instructions == "Be kind.\nFocus words: gato"  # the recap is per call, not stored

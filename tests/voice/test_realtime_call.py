"""POST /tutor/calls/: the server creates the page's call with its own key (REALTIME_CALL_SETUP=server)."""

import datetime as dt
import json

import httpx
import pytest
import respx
from asgiref.sync import iscoroutinefunction
from django.test import Client
from django.utils import timezone

from tutor.models import TutorSession
from voice.views import realtime_call

pytestmark = pytest.mark.django_db(transaction=True)

TOKEN_URL = "/tutor/token/"
URL = "/tutor/calls/"
STANDIN_KEY = "sk-standin-test-key-42"
STANDIN_CALLS = "http://testserver/standin/v1/realtime/calls"
STANDIN_HANGUP = "http://testserver/standin/v1/realtime/calls/rtc_upstream_1/hangup"
OFFER = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:efghijklmnopqrstuvwxyz12\r\na=fingerprint:sha-256 AA:BB\r\n"
)
ANSWER = "v=0\r\no=- 3 4 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


def created(call_id="rtc_upstream_1"):
    return httpx.Response(
        201, text=ANSWER, headers={"Location": f"/v1/realtime/calls/{call_id}", "Content-Type": "application/sdp"}
    )


@pytest.fixture
def upstream(settings):
    """Server mode, against the stand-in on this server, faked at the HTTP layer."""
    settings.REALTIME_CALL_SETUP = "server"
    settings.REALTIME_BASE_URL = ""
    settings.STANDIN_API_KEY = STANDIN_KEY
    settings.OPENAI_API_KEY = ""
    settings.REALTIME_TOKEN_TTL_SECONDS = 30
    with respx.mock(assert_all_called=False) as router:
        router.post(STANDIN_HANGUP).mock(return_value=httpx.Response(200))
        yield router.post(STANDIN_CALLS).mock(return_value=created())


def mint(client, body=None):
    return client.post(TOKEN_URL, data=json.dumps(body or {}), content_type="application/json")


def call(client, body, **extra):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(URL, data=data, content_type="application/json", **extra)


def minted_session(client) -> int:
    response = mint(client)
    assert response.status_code == 200, response.content
    return response.json()["session_id"]


def test_the_view_is_async():
    assert iscoroutinefunction(realtime_call)


def test_the_token_answer_says_the_server_sets_up_the_call_and_carries_no_key(
    alice_client, alice, alice_words, upstream
):
    answer = mint(alice_client).json()
    assert answer["call_setup"] == "server"
    assert answer["client_secret"] == ""
    assert answer["calls_url"] == URL
    assert 29 <= answer["expires_in"] <= 30
    # No key was minted upstream, but the mint counts: same limits as a key (a new session's
    # mint is its minted_at, which the rate limit counts).
    session = TutorSession.objects.get(pk=answer["session_id"])
    assert session.minted_at is not None and session.keys_unreported == 1
    assert mint(alice_client).json()["error"]["code"] == "session_live"


def test_it_creates_the_call_with_the_server_key_and_records_its_id(alice_client, alice, alice_words, upstream):
    session_id = minted_session(alice_client)
    response = call(alice_client, {"session_id": session_id, "sdp": OFFER})

    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["sdp"], body["call_id"], body["session_id"]) == (ANSWER, "rtc_upstream_1", session_id)
    assert body["seconds_left"] > 0
    session = TutorSession.objects.get(pk=session_id)
    assert (session.call_id, session.status, session.keys_unreported) == ("rtc_upstream_1", "live", 0)
    assert int(session.hangup_at.timestamp()) == body["hangup_at"]

    request = upstream.calls.last.request
    assert request.headers["authorization"] == f"Bearer {STANDIN_KEY}"
    assert request.headers["content-type"].startswith("multipart/form-data; boundary=")
    content = request.content.decode()
    assert 'name="sdp"' in content and "Content-Type: application/sdp" in content and OFFER in content
    assert 'name="session"' in content and "Content-Type: application/json" in content
    session_part = content.split("Content-Type: application/json\r\n\r\n", 1)[1].split("\r\n--", 1)[0]
    config = json.loads(session_part)
    assert config["type"] == "realtime"
    assert config["instructions"] == session.instructions


def test_one_mint_opens_one_call(alice_client, alice, alice_words, upstream):
    session_id = minted_session(alice_client)
    assert call(alice_client, {"session_id": session_id, "sdp": OFFER}).status_code == 201
    again = call(alice_client, {"session_id": session_id, "sdp": OFFER})
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "no_reservation"
    assert upstream.call_count == 1


def test_a_resume_mints_again_and_its_call_replaces_the_old_one(alice_client, alice, alice_words, upstream):
    session_id = minted_session(alice_client)
    call(alice_client, {"session_id": session_id, "sdp": OFFER})
    upstream.mock(return_value=created("rtc_upstream_2"))
    assert mint(alice_client, {"session_id": session_id}).status_code == 200

    response = call(alice_client, {"session_id": session_id, "sdp": OFFER})
    assert response.status_code == 201
    session = TutorSession.objects.get(pk=session_id)
    assert (session.call_id, session.keys_unreported) == ("rtc_upstream_2", 0)


def test_an_expired_mint_opens_no_call_and_is_owed_by_nobody(alice_client, alice, alice_words, upstream):
    session_id = minted_session(alice_client)
    TutorSession.objects.filter(pk=session_id).update(minted_at=timezone.now() - dt.timedelta(seconds=31))
    response = call(alice_client, {"session_id": session_id, "sdp": OFFER})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_reservation"
    assert not upstream.called
    assert TutorSession.objects.get(pk=session_id).keys_unreported == 0


# --- who may ------------------------------------------------------------------------------


def test_anonymous_gets_401_json(client, upstream):
    response = call(client, {"session_id": 1, "sdp": OFFER})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert not upstream.called


def test_it_only_answers_post(alice_client, upstream):
    assert alice_client.get(URL).status_code == 405


def test_it_checks_the_csrf_token(alice, alice_words, upstream):
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    token = "a" * 32
    client.cookies["csrftoken"] = token
    session_id = client.post(
        TOKEN_URL, data=b"{}", content_type="application/json", HTTP_X_CSRFTOKEN=token
    ).json()["session_id"]

    assert call(client, {"session_id": session_id, "sdp": OFFER}).status_code == 403
    assert not upstream.called
    assert call(client, {"session_id": session_id, "sdp": OFFER}, HTTP_X_CSRFTOKEN=token).status_code == 201


def test_another_learners_session_is_not_found(alice_client, bob_client, alice, alice_words, upstream):
    session_id = minted_session(alice_client)
    response = call(bob_client, {"session_id": session_id, "sdp": OFFER})
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not upstream.called
    # Alice's mint is untouched: she can still make her call.
    assert call(alice_client, {"session_id": session_id, "sdp": OFFER}).status_code == 201


def test_a_closed_session_gets_no_call(alice_client, alice, alice_words, upstream):
    session_id = minted_session(alice_client)
    TutorSession.objects.filter(pk=session_id).update(status="ended", ended_at=timezone.now(), end_reason="learner")
    response = call(alice_client, {"session_id": session_id, "sdp": OFFER})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "session_ended"
    assert not upstream.called


def test_a_session_ended_at_its_time_limit_says_so(alice_client, alice, upstream):
    now = timezone.now()
    session = TutorSession.objects.create(
        learner=alice, status="ended", end_reason="time_limit", model="m", voice="v", instructions="",
        connected_at=now - dt.timedelta(minutes=20), hangup_at=now, ended_at=now, keys_unreported=1,
    )
    response = call(alice_client, {"session_id": session.pk, "sdp": OFFER})
    assert response.status_code == 403
    assert response.json()["error"] == {"message": "You have used today's 20 minutes.", "code": "time_limit"}


def test_a_session_that_asked_for_no_mint_gets_no_call(alice_client, alice, upstream):
    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    response = call(alice_client, {"session_id": session.pk, "sdp": OFFER})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "no_reservation"
    assert not upstream.called


def test_in_browser_mode_the_url_is_not_there(alice_client, alice, upstream, settings):
    settings.REALTIME_CALL_SETUP = "browser"
    response = call(alice_client, {"session_id": 1, "sdp": OFFER})
    assert response.status_code == 404
    assert not upstream.called


# --- limits: exactly those of a mint -------------------------------------------------------


def test_the_mint_limits_apply_before_any_call(alice_client, alice, alice_words, upstream, settings):
    minted_session(alice_client)
    second = mint(alice_client)
    assert second.status_code == 403
    assert second.json()["error"]["code"] == "session_live"
    alice.daily_voice_minutes = 0
    alice.save()
    TutorSession.objects.all().delete()
    assert mint(alice_client).json()["error"]["code"] == "minutes_used"
    assert not upstream.called


def test_the_sixth_mint_in_a_minute_is_refused(alice_client, alice, alice_words, upstream):
    session_id = minted_session(alice_client)
    codes = [mint(alice_client, {"session_id": session_id}).status_code for _ in range(5)]
    assert codes == [200] * 4 + [429]


# --- the upstream refuses -------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer, status, code",
    [
        (httpx.Response(400, json={"error": {"message": "bad offer", "code": "invalid_offer"}}), 502, "upstream_rejected"),
        (httpx.Response(401, json={}), 502, "upstream_auth"),
        (httpx.Response(429, json={}), 429, "upstream_rate_limited"),
        (httpx.Response(500, text="oops"), 503, "upstream_unavailable"),
        (httpx.Response(503, json={}), 503, "upstream_unavailable"),
        (httpx.TimeoutException("slow"), 503, "upstream_timeout"),
        (httpx.ConnectError("refused"), 503, "upstream_unreachable"),
        (httpx.Response(201, text=ANSWER), 502, "upstream_malformed"),  # no Location
        (httpx.Response(201, text="<html>", headers={"Location": "/v1/realtime/calls/rtc_1"}), 502, "upstream_malformed"),
    ],
)
def test_an_upstream_failure_is_a_clear_error_and_releases_the_mint(
    alice_client, alice, alice_words, upstream, answer, status, code
):
    session_id = minted_session(alice_client)
    if isinstance(answer, Exception):
        upstream.mock(side_effect=answer)
    else:
        upstream.mock(return_value=answer)

    response = call(alice_client, {"session_id": session_id, "sdp": OFFER})
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert STANDIN_KEY not in error["message"] and "bad offer" not in error["message"]
    session = TutorSession.objects.get(pk=session_id)
    # Nothing is owed, no call is recorded, and the session holds no live slot: a new
    # mint for it (Try again) or a new session is allowed.
    assert (session.keys_unreported, session.call_id, session.connected_at) == (0, "", None)
    upstream.mock(return_value=created())
    assert mint(alice_client, {"session_id": session_id}).status_code == 200
    assert call(alice_client, {"session_id": session_id, "sdp": OFFER}).status_code == 201


# --- bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[1, 2]",
        json.dumps({"sdp": OFFER}).encode(),
        json.dumps({"session_id": "1", "sdp": OFFER}).encode(),
        json.dumps({"session_id": True, "sdp": OFFER}).encode(),
        json.dumps({"session_id": -4, "sdp": OFFER}).encode(),
        json.dumps({"session_id": 1}).encode(),
        json.dumps({"session_id": 1, "sdp": ["v=0"]}).encode(),
        json.dumps({"session_id": 1, "sdp": "   "}).encode(),
        json.dumps({"session_id": 1, "sdp": "hello"}).encode(),
        json.dumps({"session_id": 1, "sdp": OFFER + "a=x:\u0000\r\n"}).encode(),
        json.dumps({"session_id": 1, "sdp": OFFER + "a=x:\ud800\r\n"}).encode(),
        json.dumps({"session_id": 1, "sdp": OFFER, "page": "../../etc"}).encode(),
        json.dumps({"session_id": 1, "sdp": "v=0\r\n" + "a=x\r\n" * 5000}).encode(),
    ],
)
def test_malformed_requests_get_400_and_spend_nothing(alice_client, alice, alice_words, upstream, body):
    session_id = minted_session(alice_client)
    body = body.replace(b'"session_id": 1', f'"session_id": {session_id}'.encode())
    response = call(alice_client, body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert not upstream.called
    assert TutorSession.objects.get(pk=session_id).keys_unreported == 1


def test_an_oversized_body_is_refused_unread(alice_client, alice, alice_words, upstream):
    session_id = minted_session(alice_client)
    response = call(alice_client, {"session_id": session_id, "sdp": "v=0\r\n" + "x" * 200_000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not upstream.called


def test_a_missing_session_is_not_found(alice_client, alice, upstream):
    response = call(alice_client, {"session_id": 987654, "sdp": OFFER})
    assert response.status_code == 404

import json
import logging

import httpx
import pytest
from django.test import RequestFactory

from voice.realtime import (
    ClientSecret,
    RealtimeError,
    calls_hangup,
    client_secret_create,
    upstream_for,
)

KEY = "sk-test-very-secret-0123456789"
BASE = "https://api.example.test/v1"
CONFIG = {"type": "realtime", "model": "gpt-realtime", "instructions": "Focus words: gato"}
GOOD = {"value": "ek_abc123", "expires_at": 1767225600, "session": {"type": "realtime", "id": "sess_1"}}


def transport(answer):
    """A MockTransport whose handler records requests and answers ``answer(request)``."""
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return answer(request)

    mock = httpx.MockTransport(handler)
    mock.seen = seen
    return mock


def answering(status, body=None, *, content=None, headers=None):
    def answer(request):
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return transport(answer)


def raising(error_class):
    def answer(request):
        raise error_class("boom", request=request)

    return transport(answer)


async def mint(mock, *, base=BASE):
    return await client_secret_create(
        session_config=CONFIG, base_url=base, api_key=KEY, ttl_seconds=60, transport=mock
    )


async def test_it_mints_a_client_secret(settings):
    settings.REALTIME_HTTP_TIMEOUT_SECONDS = 7.5
    mock = answering(200, GOOD)

    secret = await mint(mock)

    assert secret == ClientSecret(value="ek_abc123", expires_at=1767225600)
    [request] = mock.seen
    assert request.method == "POST"
    assert str(request.url) == f"{BASE}/realtime/client_secrets"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert json.loads(request.content) == {
        "expires_after": {"anchor": "created_at", "seconds": 60},
        "session": CONFIG,
    }
    assert request.extensions["timeout"] == {"connect": 7.5, "read": 7.5, "write": 7.5, "pool": 7.5}


async def test_it_accepts_a_base_url_with_a_trailing_slash():
    mock = answering(200, GOOD)
    await mint(mock, base=BASE + "/")
    assert str(mock.seen[0].url) == f"{BASE}/realtime/client_secrets"


async def test_a_secret_without_a_session_is_still_a_key():
    secret = await mint(answering(200, {"value": "ek_1", "expires_at": 5}))
    assert secret == ClientSecret(value="ek_1", expires_at=5)


@pytest.mark.parametrize(
    "status, answer_status, code",
    [
        (401, 502, "upstream_auth"),
        (403, 502, "upstream_auth"),
        (429, 429, "upstream_rate_limited"),
        (500, 503, "upstream_unavailable"),
        (502, 503, "upstream_unavailable"),
        (503, 503, "upstream_unavailable"),
        (400, 502, "upstream_rejected"),
        (404, 502, "upstream_rejected"),
        (302, 502, "upstream_rejected"),
    ],
)
async def test_it_turns_an_upstream_status_into_one_error(status, answer_status, code, caplog):
    body = {"error": {"message": f"Incorrect API key provided: {KEY}", "type": "invalid_request_error",
                      "code": "invalid_api_key"}}
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(RealtimeError) as caught:
            await mint(answering(status, body, headers={"x-request-id": "req_42"}))

    assert (caught.value.status, caught.value.code) == (answer_status, code)
    assert KEY not in caught.value.message and "Incorrect API key" not in caught.value.message
    assert KEY not in caplog.text and "Incorrect API key" not in caplog.text
    assert f"HTTP {status}" in caplog.text and "req_42" in caplog.text


@pytest.mark.parametrize(
    "error_class, code",
    [
        (httpx.ConnectTimeout, "upstream_timeout"),
        (httpx.ReadTimeout, "upstream_timeout"),
        (httpx.ConnectError, "upstream_unreachable"),
        (httpx.RemoteProtocolError, "upstream_unreachable"),
    ],
)
async def test_it_turns_timeouts_and_connection_errors_into_503(error_class, code, caplog):
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(RealtimeError) as caught:
            await mint(raising(error_class))
    assert (caught.value.status, caught.value.code) == (503, code)
    assert KEY not in caplog.text


@pytest.mark.parametrize(
    "content",
    [
        b"<html>Bad gateway</html>",
        b"[1, 2]",
        json.dumps({"expires_at": 5}).encode(),
        json.dumps({"value": "sk-not-a-browser-key", "expires_at": 5}).encode(),
        json.dumps({"value": 42, "expires_at": 5}).encode(),
        json.dumps({"value": "ek_1"}).encode(),
        json.dumps({"value": "ek_1", "expires_at": "tomorrow"}).encode(),
        json.dumps({"value": "ek_1", "expires_at": True}).encode(),
    ],
)
async def test_it_turns_a_malformed_answer_into_502(content, caplog):
    with caplog.at_level(logging.DEBUG):
        with pytest.raises(RealtimeError) as caught:
            await mint(answering(200, content=content))
    assert (caught.value.status, caught.value.code) == (502, "upstream_malformed")
    assert "malformed" in caplog.text
    assert "sk-not-a-browser-key" not in caplog.text


def test_it_uses_the_standin_on_this_server_by_default(settings):
    settings.REALTIME_BASE_URL = ""
    settings.STANDIN_API_KEY = "sk-standin-test"
    settings.OPENAI_API_KEY = "sk-real"
    request = RequestFactory().post("/tutor/token/", HTTP_HOST="localhost:8000")

    upstream = upstream_for(request)

    assert upstream.base_url == "http://localhost:8000/standin/v1"
    assert upstream.api_key == "sk-standin-test"
    assert upstream.calls_url == "/standin/v1/realtime/calls"  # the page's own origin
    assert "sk-standin-test" not in repr(upstream)


def test_a_forged_host_header_does_not_choose_where_the_key_goes(settings):
    settings.REALTIME_BASE_URL = ""
    request = RequestFactory().post("/tutor/token/", HTTP_HOST="127.0.0.1:8290")
    request.scope = {"type": "http", "server": ("127.0.0.1", 8123)}  # what daphne listens on

    assert upstream_for(request).base_url == "http://127.0.0.1:8123/standin/v1"


def test_it_uses_the_configured_api_with_the_openai_key(settings):
    settings.REALTIME_BASE_URL = BASE + "/"
    settings.OPENAI_API_KEY = KEY
    upstream = upstream_for(RequestFactory().post("/tutor/token/"))
    assert (upstream.base_url, upstream.api_key) == (BASE, KEY)
    assert upstream.calls_url == f"{BASE}/realtime/calls"


def test_it_falls_back_to_the_standin_key_for_a_standin_elsewhere(settings):
    settings.REALTIME_BASE_URL = "http://standin.internal:9000/v1"
    settings.OPENAI_API_KEY = ""
    settings.STANDIN_API_KEY = "sk-standin"
    assert upstream_for(RequestFactory().post("/")).api_key == "sk-standin"


def test_it_is_not_configured_without_any_key(settings):
    settings.REALTIME_BASE_URL = BASE
    settings.OPENAI_API_KEY = ""
    settings.STANDIN_API_KEY = ""
    with pytest.raises(RealtimeError) as caught:
        upstream_for(RequestFactory().post("/"))
    assert (caught.value.status, caught.value.code, caught.value.message) == (
        503, "not_configured", "The tutor is not configured."
    )


async def test_it_hangs_up_a_call():
    mock = answering(200, {})
    await calls_hangup(call_id="rtc_123", base_url=BASE, api_key=KEY, transport=mock)
    [request] = mock.seen
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/realtime/calls/rtc_123/hangup")
    assert request.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("call_id", ["", "../client_secrets", "rtc_1/hangup?x=1", "rtc 1", 42])
async def test_it_refuses_to_hang_up_a_strange_call_id(call_id):
    mock = answering(200, {})
    with pytest.raises(RealtimeError) as caught:
        await calls_hangup(call_id=call_id, base_url=BASE, api_key=KEY, transport=mock)
    assert caught.value.status == 400
    assert mock.seen == []


async def test_a_failed_hangup_is_one_error():
    with pytest.raises(RealtimeError) as caught:
        await calls_hangup(call_id="rtc_1", base_url=BASE, api_key=KEY, transport=answering(500, {}))
    assert caught.value.status == 503


# --- upstream_stored: the key for work without a request ------------------------------------


def test_a_stored_standin_url_gets_the_standin_key(settings):
    from voice.realtime import upstream_stored

    settings.REALTIME_BASE_URL = ""
    settings.REALTIME_STANDIN = True
    settings.STANDIN_API_KEY = "sk-standin-x"
    upstream = upstream_stored("http://127.0.0.1:8000/standin/v1/")
    assert (upstream.base_url, upstream.api_key) == ("http://127.0.0.1:8000/standin/v1", "sk-standin-x")


def test_the_configured_api_gets_the_openai_key(settings):
    from voice.realtime import upstream_stored

    settings.REALTIME_BASE_URL = "https://api.example.test/v1"
    settings.OPENAI_API_KEY = "sk-openai-x"
    for stored in ("https://api.example.test/v1", ""):
        upstream = upstream_stored(stored)
        assert (upstream.base_url, upstream.api_key) == ("https://api.example.test/v1", "sk-openai-x")


@pytest.mark.parametrize("stored", ["https://evil.example/v1", "https://evil.example/standin/v1"])
def test_an_unknown_url_never_gets_a_key(settings, stored):
    from voice.realtime import RealtimeError, upstream_stored

    settings.REALTIME_BASE_URL = "https://api.example.test/v1"
    settings.OPENAI_API_KEY = "sk-openai-x"
    settings.REALTIME_STANDIN = False
    with pytest.raises(RealtimeError) as caught:
        upstream_stored(stored)
    assert caught.value.code == "unknown_upstream"

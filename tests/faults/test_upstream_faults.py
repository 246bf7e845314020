"""The Realtime API failing in every way we know: a clear message, no traceback, no key anywhere."""

from __future__ import annotations

import json
import logging

import httpx
import pytest
import respx

from tutor.models import TutorSession

pytestmark = pytest.mark.django_db

SERVER_KEY = "sk-upstream-faults-server-key-31337"
LEAKED_EK = "ek_would_be_browser_key_0123456789"
SECRETS_URL = "https://realtime.example.test/v1/realtime/client_secrets"

FAULTS = {
    "401 echoing the key": (
        httpx.Response(
            401,
            json={
                "error": {
                    "message": f"Incorrect API key provided: {SERVER_KEY}",
                    "type": "invalid_request_error",
                    "code": "invalid_api_key",
                }
            },
        ),
        502,
        "upstream_auth",
        "refused our credentials",
    ),
    "429": (
        httpx.Response(
            429,
            json={"error": {"message": "Rate limit", "code": "rate_limit_exceeded"}},
            headers={"retry-after": "20"},
        ),
        429,
        "upstream_rate_limited",
        "busy",
    ),
    "500": (
        httpx.Response(500, text="Internal Server Error"),
        503,
        "upstream_unavailable",
        "unavailable",
    ),
    "read timeout": (httpx.ReadTimeout("timed out"), 503, "upstream_timeout", "too long"),
    "connect timeout": (httpx.ConnectTimeout("timed out"), 503, "upstream_timeout", "too long"),
    "not JSON": (
        httpx.Response(200, text="<html>gateway</html>"),
        502,
        "upstream_malformed",
        "unexpected",
    ),
    "a JSON list": (httpx.Response(200, json=[LEAKED_EK]), 502, "upstream_malformed", "unexpected"),
    "an ek_ key without expiry": (
        httpx.Response(200, json={"value": LEAKED_EK, "session": {}}),
        502,
        "upstream_malformed",
        "unexpected",
    ),
    "the server key as value": (
        httpx.Response(200, json={"value": SERVER_KEY, "expires_at": 1}),
        502,
        "upstream_malformed",
        "unexpected",
    ),
    "a truncated body": (
        httpx.Response(
            200,
            content=b'{"value": "' + LEAKED_EK.encode(),
            headers={"content-type": "application/json"},
        ),
        502,
        "upstream_malformed",
        "unexpected",
    ),
}


@pytest.fixture
def openai_settings(settings):
    settings.REALTIME_BASE_URL = "https://realtime.example.test/v1"
    settings.OPENAI_API_KEY = SERVER_KEY
    return settings


@pytest.mark.parametrize("fault", list(FAULTS), ids=list(FAULTS))
def test_an_upstream_fault_is_a_clear_message_without_traceback_or_key(
    alice_client, alice, alice_words, openai_settings, caplog, fault
):
    answer, status, code, words = FAULTS[fault]
    with respx.mock() as router:
        route = router.post(SECRETS_URL)
        route.mock(side_effect=answer) if isinstance(answer, Exception) else route.mock(
            return_value=answer
        )
        with caplog.at_level(logging.DEBUG):
            response = alice_client.post(
                "/tutor/token/", data=b"{}", content_type="application/json"
            )

    assert response.status_code == status
    body = response.json()
    assert body["error"]["code"] == code
    assert words in body["error"]["message"]
    assert set(body) == {"error"} and set(body["error"]) == {"message", "code"}
    page = response.content.decode()
    assert SERVER_KEY not in page and LEAKED_EK not in page
    # One warning that says what happened, no stack trace, no key.
    assert [r.levelname for r in caplog.records if r.name == "voice.realtime"] == ["WARNING"]
    assert all(record.exc_info is None for record in caplog.records)
    assert "Traceback" not in caplog.text
    assert SERVER_KEY not in caplog.text and LEAKED_EK not in caplog.text
    assert not TutorSession.objects.exists()


def test_the_bearer_key_goes_only_in_the_authorization_header(
    alice_client, alice_words, openai_settings, caplog
):
    with respx.mock() as router:
        route = router.post(SECRETS_URL).mock(return_value=httpx.Response(401, json={}))
        with caplog.at_level(logging.DEBUG):
            alice_client.post("/tutor/token/", data=b"{}", content_type="application/json")
    request = route.calls.last.request
    assert request.headers["authorization"] == f"Bearer {SERVER_KEY}"
    assert SERVER_KEY not in request.url.query.decode() and SERVER_KEY not in json.dumps(
        json.loads(request.content)
    )

"""Request ids on responses and log lines; JSON lines on demand; no key ever in a log line."""

from __future__ import annotations

import io
import json
import logging
import re
import sys

import httpx
import pytest
from django.test import Client

from config.logging import JsonFormatter, PlainFormatter, RequestIdFilter, redact
from config.request_id import request_id_var
from tests.support.daphne import daphne_running

SERVER_KEY = "sk-standin-logging-test-1234567890"


def test_it_makes_up_a_request_id_and_returns_it(client):
    response = client.get("/")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert client.get("/")["X-Request-ID"] != response["X-Request-ID"]


def test_it_keeps_a_sane_request_id_from_the_proxy(client):
    response = client.get("/", HTTP_X_REQUEST_ID="nginx-4f1c2d3e-0001")
    assert response["X-Request-ID"] == "nginx-4f1c2d3e-0001"


@pytest.mark.parametrize(
    "proposed",
    ["short", "x" * 65, "has space in it", "line\nbreak-injected", "<script>alert(1)</script>"],
)
def test_it_replaces_an_unusable_request_id(client, proposed):
    response = client.get("/", HTTP_X_REQUEST_ID=proposed)
    assert response["X-Request-ID"] != proposed
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_redirects_and_errors_carry_it_too(client):
    assert client.get("/tutor/")["X-Request-ID"]  # login redirect
    assert client.get("/no-such-page/")["X-Request-ID"]


async def test_async_views_carry_it(async_client, db):
    response = await async_client.post(
        "/tutor/token/", headers={"X-Request-ID": "req-async-000001"}
    )
    assert response.status_code == 401
    assert response["X-Request-ID"] == "req-async-000001"


def _record(message: str, *args, exc_info=None) -> logging.LogRecord:
    record = logging.LogRecord(
        "voice.realtime", logging.WARNING, __file__, 1, message, args, exc_info
    )
    RequestIdFilter().filter(record)
    return record


def test_the_json_formatter_writes_one_object_per_line_with_the_request_id():
    token = request_id_var.set("req-json-00000001")
    try:
        record = _record("minted for %s", "alice")
    finally:
        request_id_var.reset(token)
    line = JsonFormatter().format(record)
    assert "\n" not in line
    data = json.loads(line)
    assert data["request_id"] == "req-json-00000001"
    assert data["message"] == "minted for alice"
    assert data["level"] == "WARNING" and data["logger"] == "voice.realtime"


def test_outside_a_request_the_id_is_a_dash():
    assert json.loads(JsonFormatter().format(_record("idle")))["request_id"] == "-"
    assert " [-] idle" in PlainFormatter().format(_record("idle"))


def test_keys_are_masked_in_messages_arguments_and_exceptions(settings):
    settings.OPENAI_API_KEY = "not-key-shaped-but-secret-42"
    try:
        raise RuntimeError("upstream said: Incorrect API key provided: sk-proj-abcdef123456")
    except RuntimeError:
        exc_info = sys.exc_info()
    record = _record(
        "minted %s with %s (%s)",
        "ek_0123456789abcdef",
        "Bearer sk-live-zzz999",
        "not-key-shaped-but-secret-42",
        exc_info=exc_info,
    )
    for text in (JsonFormatter().format(record), PlainFormatter().format(record)):
        for secret in (
            "ek_0123456789abcdef",
            "sk-live-zzz999",
            "sk-proj-abcdef123456",
            "not-key-shaped-but-secret-42",
        ):
            assert secret not in text
        assert "[redacted]" in text
    assert redact("nothing secret here") == "nothing secret here"


@pytest.fixture
def learner_cookies(transactional_db, alice, alice_words):
    client = Client()
    client.force_login(alice)
    return {"sessionid": client.cookies["sessionid"].value, "csrftoken": "c" * 32}


@pytest.mark.django_db(transaction=True)
def test_json_logs_of_a_real_server_carry_request_ids_and_no_keys(learner_cookies):
    """daphne with LOG_FORMAT=json at debug level: a mint through the stand-in logs neither key."""
    env = {
        "LOG_FORMAT": "json",
        "LOG_LEVEL": "debug",
        "REALTIME_STANDIN": "on",
        "OPENAI_API_KEY": "",
        "STANDIN_API_KEY": SERVER_KEY,
    }
    with daphne_running(env=env) as server:
        with httpx.Client(base_url=server.base_url, cookies=learner_cookies) as http:
            response = http.post(
                "/tutor/token/",
                headers={"X-CSRFToken": "c" * 32, "X-Request-ID": "req-mint-00000001"},
                content=b"{}",
            )
            assert response.status_code == 200, response.text
            browser_key = response.json()["client_secret"]
            assert browser_key.startswith("ek_")
            assert response.headers["X-Request-ID"] == "req-mint-00000001"
            assert (
                http.get("/no-such-page/", headers={"X-Request-ID": "req-missing-0001"}).status_code
                == 404
            )
        log = server.log()

    assert SERVER_KEY not in log
    assert browser_key not in log
    # daphne's own access log is plain text on stdout; everything from logging is JSON.
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert lines, log
    assert {"time", "level", "logger", "request_id", "message"} <= set(lines[0])
    by_request = {line["request_id"] for line in lines}
    # httpx logs the upstream call made while the token view ran, under that request's id.
    assert any(
        line["request_id"] == "req-mint-00000001" and "client_secrets" in line["message"]
        for line in lines
    ), log
    assert any(
        line["request_id"] == "req-missing-0001" and "Not Found" in line["message"]
        for line in lines
    ), log
    assert "-" in by_request  # start-up lines, outside any request


def test_plain_logs_go_through_the_same_filter(settings):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(PlainFormatter())
    logger = logging.getLogger("tests.request_id")
    logger.addHandler(handler)
    logger.propagate = False
    token = request_id_var.set("req-plain-0000001")
    try:
        logger.warning("key %s", "sk-abc123456789")
    finally:
        request_id_var.reset(token)
        logger.removeHandler(handler)
        logger.propagate = True
    assert "[req-plain-0000001] key [redacted]" in stream.getvalue()

"""daphne's access lines: through the redacting log format, with the trusted client address."""

from __future__ import annotations

import time

import httpx
import pytest

from config.access_log import trusted_client
from config.logging import redact
from tests.support.daphne import daphne_running

RESET_PATH = "/accounts/password/reset/key/3-cbz4a1-7f0e9d8c6b5a4f3e2d1c0b9a8f7e6d5c/"


def test_redact_masks_the_keys_of_emailed_links():
    line = f'127.0.0.1:0 "GET {RESET_PATH}" 302 -'
    assert "cbz4a1" not in redact(line)
    assert "/accounts/password/reset/key/[redacted]/" in redact(line)
    assert "confirm-email/[redacted]/" in redact("GET /accounts/confirm-email/MQ:1tQx:abc/")
    assert "abc" not in redact("GET /accounts/confirm-email/MQ:1tQx:abc/")


@pytest.mark.parametrize(
    ("header", "proxies", "expected"),
    [
        ("10.0.0.7", 1, "10.0.0.7"),
        ("6.6.6.6, 10.0.0.7", 1, "10.0.0.7"),  # the client wrote 6.6.6.6; the proxy added the rest
        ("6.6.6.6, 10.0.0.7, 172.16.0.2", 2, "10.0.0.7"),
        ("10.0.0.7", 2, None),  # fewer entries than proxies: the header cannot be right
        ("6.6.6.6", 0, None),  # no trusted proxy: the header is not believed
    ],
)
def test_the_trusted_client_is_counted_from_the_right(header, proxies, expected):
    assert trusted_client(header, proxies=proxies) == expected


def access_lines(server, marker: str) -> list[str]:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        lines = [line for line in server.log().splitlines() if marker in line]
        if lines:
            return lines
        time.sleep(0.1)
    return []


@pytest.mark.django_db(transaction=True)
def test_daphne_logs_access_through_the_redacting_formatter_with_the_proxied_address():
    env = {"TRUSTED_PROXY_COUNT": "1", "LOG_FORMAT": "plain", "LOG_LEVEL": "info"}
    with daphne_running(env=env, args=["--proxy-headers"], ready_path="/healthz") as server:
        headers = {"X-Forwarded-For": "6.6.6.6, 10.20.30.40", "X-Forwarded-Proto": "http"}
        httpx.get(server.base_url + RESET_PATH, headers=headers, timeout=10)
        lines = access_lines(server, "/accounts/password/reset/key/")
        log = server.log()

    assert lines, log
    assert all(" INFO daphne.access " in line for line in lines), lines
    assert "cbz4a1" not in log and "7f0e9d8c6b5a4f3e2d1c0b9a8f7e6d5c" not in log
    assert any(line.split('"')[0].split()[-1].startswith("10.20.30.40:") for line in lines), lines
    assert "6.6.6.6" not in log

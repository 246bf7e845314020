"""Helpers for tests that talk to daphne subprocesses (``tests.support.daphne``): session
cookies, sockets, PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time

from django.conf import settings
from django.test import Client

ORIGIN = "http://127.0.0.1"


def session_cookie(user) -> str:
    """A sessionid cookie for ``user``, stored in the database every process shares."""
    client = Client()
    client.force_login(user)
    return client.cookies["sessionid"].value


def ws_url(base_url: str, path: str) -> str:
    return base_url.replace("http://", "ws://", 1) + path


def ws_connect(base_url: str, path: str, cookie: str | None, *, origin: str = ORIGIN):
    """A ``websockets`` client connection to ``path`` on ``base_url`` as the cookie's user."""
    from websockets.asyncio.client import connect

    headers = {"Cookie": f"sessionid={cookie}"} if cookie else {}
    return connect(
        ws_url(base_url, path),
        origin=origin,
        additional_headers=headers,
        open_timeout=10,
        proxy=None,
    )


def item_message(item_id: str, order: int, text: str | None = None, role: str = "user") -> dict:
    return {
        "type": "item",
        "item": {
            "id": item_id,
            "role": role,
            "kind": "message",
            "text": text or f"turn {order}",
            "order": order,
        },
    }


def is_postgresql() -> bool:
    return "postgresql" in settings.DATABASES["default"]["ENGINE"]


def postgres_cluster() -> str | None:
    """The Debian cluster version under /etc/postgresql, if this machine has one."""
    try:
        versions = sorted(os.listdir("/etc/postgresql"))
    except OSError:
        return None
    return versions[0] if versions else None


def postgres_ready() -> bool:
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"]).returncode == 0


def postgres_ctl(action: str) -> subprocess.CompletedProcess:
    version = postgres_cluster()
    return subprocess.run(
        ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", action],
        capture_output=True,
        text=True,
        timeout=120,
    )


def postgres_ensure_up(timeout_s: float = 60.0) -> None:
    """Start PostgreSQL again if a test left it down, and wait until it accepts connections."""
    deadline = time.monotonic() + timeout_s
    if not postgres_ready():
        postgres_ctl("start")
    while not postgres_ready():
        if time.monotonic() > deadline:
            raise RuntimeError("PostgreSQL did not come back")
        time.sleep(0.2)


async def page_settled(page, timeout_ms: int, quiet_polls: int = 4) -> None:
    """Wait until every completed turn is saved, nothing waits in the outbox, and no turn is added."""
    last, quiet = None, 0
    for _ in range(timeout_ms // 500):
        now = await page.evaluate(
            "() => [document.querySelectorAll('li.turn').length,"
            " document.querySelectorAll('li.turn:not(.pending):not([data-saved=true])').length,"
            " document.querySelector('[data-pending]').hidden]"
        )
        quiet = quiet + 1 if now == last and now[1] == 0 and now[2] else 0
        if quiet >= quiet_polls:
            return
        last = now
        await asyncio.sleep(0.5)
    raise AssertionError(f"the page never settled: {last}")

"""Helpers for tests that talk to daphne subprocesses: session cookies, sockets, PostgreSQL."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from django.conf import settings
from django.test import Client

from tests.support.daphne import REPO, Daphne, database_url_for_tests, free_port

ORIGIN = "http://127.0.0.1"
START_TIMEOUT_S = 30.0


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


@contextlib.contextmanager
def daphne_on_port(
    port: int | None = None, *, env: dict[str, str] | None = None
) -> Iterator[Daphne]:
    """Like ``tests.support.daphne.daphne_running``, on a chosen port, killable with ``kill()``."""
    port = port or free_port()
    child_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url_for_tests(),
        **(env or {}),
    }
    log_file = tempfile.NamedTemporaryFile(prefix="daphne-", suffix=".log", delete=False)
    log_path = Path(log_file.name)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "daphne",
            "-b",
            "127.0.0.1",
            "-p",
            str(port),
            "config.asgi:application",
        ],
        cwd=REPO,
        env=child_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    server = Daphne(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"daphne exited with {process.returncode}:\n{server.log()}")
            try:
                httpx.get(server.base_url + "/", timeout=1.0)
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"daphne did not answer:\n{server.log()}") from None
                time.sleep(0.1)
        yield server
    finally:
        server.stop()
        log_file.close()


def kill(server: Daphne) -> None:
    """SIGKILL: no shutdown handlers, no goodbyes, like a crashed or OOM-killed process."""
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)


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

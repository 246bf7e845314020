"""Run the project's ASGI application under daphne in a subprocess, for end-to-end tests.

The subprocess uses the test database of the running pytest session (the SQLite test file, or the
PostgreSQL test database), so ``transactional_db`` tests see what it writes and the other way round.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def database_url_for_tests() -> str:
    """A ``DATABASE_URL`` naming the database the test run is using right now."""
    from django.db import connection

    conf = connection.settings_dict
    engine = conf["ENGINE"]
    if engine.endswith("sqlite3"):
        name = str(conf["NAME"])
        if name == ":memory:" or "mode=memory" in name:
            raise RuntimeError("An in-memory SQLite test database cannot be shared with a daphne subprocess.")
        return f"sqlite:///{Path(name).resolve()}"
    if "postgresql" in engine:
        user = quote(conf.get("USER") or "", safe="")
        password = quote(conf.get("PASSWORD") or "", safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = conf.get("HOST") or "localhost"
        port = f":{conf['PORT']}" if conf.get("PORT") else ""
        return f"postgres://{credentials}{host}{port}/{quote(conf['NAME'], safe='')}"
    raise RuntimeError(f"Do not know how to hand the {engine} test database to daphne.")


def _wait_until_up(process: subprocess.Popen, base_url: str, log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"daphne exited with {process.returncode}:\n{log_path.read_text()}")
        try:
            httpx.get(base_url + "/", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError(f"daphne did not answer within {START_TIMEOUT_S} s:\n{log_path.read_text()}")


@contextlib.contextmanager
def daphne_running(*, env: dict[str, str] | None = None, database_url: str | None = None) -> Iterator["Daphne"]:
    """Start daphne on a free 127.0.0.1 port; yield a handle with ``base_url`` and ``log()``."""
    port = free_port()
    child_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url or database_url_for_tests(),
        **(env or {}),
    }
    log_file = tempfile.NamedTemporaryFile(prefix="daphne-", suffix=".log", delete=False)
    log_path = Path(log_file.name)
    process = subprocess.Popen(
        [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=REPO,
        env=child_env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    server = Daphne(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path)
    try:
        _wait_until_up(process, server.base_url, log_path)
        yield server
    finally:
        server.stop()
        log_file.close()


class Daphne:
    def __init__(self, *, process: subprocess.Popen, base_url: str, log_path: Path) -> None:
        self.process = process
        self.base_url = base_url
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

"""Run the project's ASGI application under daphne in a subprocess: the one launcher of the
end-to-end, fault and scale tests and of the benchmarks (``bench/_common.daphne``).

By default the subprocess uses the test database of the running pytest session (the SQLite test
file, or the PostgreSQL test database), so ``transactional_db`` tests see what it writes and the
other way round; a benchmark names its own database with ``database_url``.

    with daphne_running(env={"REALTIME_STANDIN": "on"}) as server:
        httpx.get(server.base_url + "/healthz")
        server.kill()  # SIGKILL, for the fault tests; leaving the block terminates it otherwise
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import httpx

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0


class DaphneNotStarted(RuntimeError):
    """daphne exited, or did not answer in time; the message ends with its log."""


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


class Daphne:
    """A running daphne subprocess; a context manager that stops it on leaving."""

    def __init__(self, *, process: subprocess.Popen, port: int, log_path: Path) -> None:
        self.process = process
        self.port = port
        self.base_url = f"http://127.0.0.1:{port}"
        self.log_path = log_path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        """SIGTERM, and SIGKILL if it has not exited within ``STOP_TIMEOUT_S``."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """SIGKILL: no shutdown handlers, no goodbyes, like a crashed or OOM-killed process."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=STOP_TIMEOUT_S)

    def __enter__(self) -> Daphne:
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _wait_until_up(self, ready_path: str, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            if self.process.poll() is not None:
                raise DaphneNotStarted(f"daphne exited with {self.process.returncode}:\n{self.log()}")
            try:
                httpx.get(self.base_url + ready_path, timeout=2.0)
                return
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    raise DaphneNotStarted(
                        f"daphne did not answer within {timeout_s:g} s:\n{self.log()}"
                    ) from None
                time.sleep(0.1)


def daphne_running(
    *,
    port: int | None = None,
    env: dict[str, str] | None = None,
    database_url: str | None = None,
    verbosity: int | None = None,
    ready_path: str = "/",
    start_timeout_s: float = START_TIMEOUT_S,
    log_prefix: str = "daphne-",
    preexec_fn: Callable[[], None] | None = None,
    args: list[str] | None = None,
) -> Daphne:
    """Start daphne on 127.0.0.1 and return it once ``ready_path`` answers; use it in ``with``.

    - ``port``: a free one unless given (the fault tests start a second daphne on the port of
      one they killed).
    - ``env``: on top of this process's environment, ``config.settings`` and ``DATABASE_URL``.
    - ``database_url``: default, the running test database (``database_url_for_tests``).
    - ``verbosity``: daphne's ``-v`` (the benchmarks pass 0: no access log).
    - ``start_timeout_s``: how long it may take to answer; then ``DaphneNotStarted``.
    - ``log_prefix``: the name of the temporary file that gets its stdout and stderr
      (``log_path``, read with ``log()``); the file is kept for a look after a failure.
    - ``preexec_fn``: run in the child before daphne (the benchmarks raise its open-files limit).
    - ``args``: more daphne options (``["--proxy-headers"]``, as in production).
    """
    port = port or free_port()
    child_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
        "DATABASE_URL": database_url or database_url_for_tests(),
        **(env or {}),
    }
    command = [sys.executable, "-m", "daphne"]
    if verbosity is not None:
        command += ["-v", str(verbosity)]
    command += list(args or [])
    command += ["-b", "127.0.0.1", "-p", str(port), "config.asgi:application"]
    with tempfile.NamedTemporaryFile(prefix=log_prefix, suffix=".log", delete=False) as log_file:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=child_env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            preexec_fn=preexec_fn,
        )
    server = Daphne(process=process, port=port, log_path=Path(log_file.name))
    try:
        server._wait_until_up(ready_path, start_timeout_s)
    except BaseException:
        server.stop()
        raise
    return server

"""What the benchmark scripts share: a database to run on, daphne, percentiles, progress, output.

Every benchmark measures its baseline in the same run and prints each figure beside it with
the ratio, because timings on a shared 2-core machine drift from one minute to the next.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# The one daphne launcher of the tests and the benchmarks; free_port serves bench/mint.py's stub.
from tests.support.daphne import Daphne, DaphneNotStarted, daphne_running, free_port  # noqa: E402, F401

# The benchmark's own database, dropped and made afresh each run: BENCH_DB_NAME names another
# (several people benchmarking on one server), but only a name with "bench" in it.
BENCH_DB_NAME = os.environ.get("BENCH_DB_NAME", "parlance_bench")
if "bench" not in BENCH_DB_NAME:
    raise SystemExit(f"BENCH_DB_NAME={BENCH_DB_NAME!r}: a benchmark's database name must contain 'bench'.")

# The production settings (config/settings.py with DEBUG off; config/checks.py passes), over
# plain HTTP on 127.0.0.1: the TLS proxy's part (redirects, secure cookies) is left out.
PRODUCTION_ENV = {
    "DEBUG": "off",
    "SECRET_KEY": "bench-only-" + "k" * 50,
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "CSRF_TRUSTED_ORIGINS": "http://127.0.0.1",
    "BEHIND_TLS_PROXY": "off",
    "SECURE_SSL_REDIRECT": "off",
    "SESSION_COOKIE_SECURE": "off",
    "CSRF_COOKIE_SECURE": "off",
    "SECURE_HSTS_SECONDS": "0",
    "EMAIL_HOST": "127.0.0.1",  # never sent to: no benchmark signs anybody up
    "STANDIN_API_KEY": "sk-bench-standin-" + "s" * 32,
}


def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument(
        "--smoke", action="store_true", help="a few-seconds run that only checks the script works"
    )
    p.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", ""),
        help="where to build the benchmark's data (default: a temporary SQLite file, or a "
        f"'{BENCH_DB_NAME}' database beside DATABASE_URL when that is PostgreSQL; a PostgreSQL "
        f"database is dropped and made afresh, so its name must start with '{BENCH_DB_NAME}')",
    )
    return p


def machine() -> str:
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def bench_database_url(explicit: str, *, need_postgres: bool = False) -> str:
    """The benchmark's own database: never the one the app or the tests use."""
    if explicit:
        url = explicit
    else:
        configured = os.environ.get("DATABASE_URL", "")
        if configured.startswith(("postgres://", "postgresql://")):
            url = urlunsplit(urlsplit(configured)._replace(path="/" + BENCH_DB_NAME))
        elif need_postgres:
            url = f"postgres://postgres@127.0.0.1:5432/{BENCH_DB_NAME}"
        else:
            path = Path(tempfile.gettempdir()) / f"parlance-bench-{os.getpid()}.sqlite3"
            atexit.register(
                lambda: [Path(f"{path}{end}").unlink(missing_ok=True) for end in ("", "-journal")]
            )
            url = f"sqlite:///{path}"
    if need_postgres and not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("This benchmark needs PostgreSQL: pass --database-url postgres://…")
    return url


def postgres_database_create(url: str) -> None:
    """A fresh, empty database for ``url`` (connecting to its server's 'postgres'): one left by
    an earlier run may hold another migration history, or data that skews the figures."""
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))
    if name != BENCH_DB_NAME and not name.startswith(BENCH_DB_NAME):
        raise SystemExit(f"Refusing to recreate {name!r}: only the benchmark's own database is dropped.")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(database_url: str, *, static: bool = False, **env: str) -> None:
    """Configure Django on ``database_url`` (created and migrated) in this process, with the
    production settings (``PRODUCTION_ENV``; the daphne processes it starts inherit them).
    ``static``: collect the static files, as a production deployment does before serving."""
    if database_url.startswith(("postgres://", "postgresql://")):
        postgres_database_create(database_url)
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "warning")
    os.environ.update(PRODUCTION_ENV)
    os.environ.update(env)
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if static:
        call_command("collectstatic", verbosity=0, interactive=False)
    database = settings.DATABASES["default"]
    print(
        f"settings: DEBUG={settings.DEBUG} | database pool: "
        f"{'on' if (database.get('OPTIONS') or {}).get('pool') else 'off'} | "
        f"CONN_MAX_AGE={database['CONN_MAX_AGE']} | cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}"
    )


def learner_sessions_build(count: int, *, email_prefix: str) -> tuple[str, list[int]]:
    """A fresh learner with ``count + 1`` tutor sessions: their session cookie and session ids."""
    from django.test import Client

    from accounts.models import User
    from tutor.models import TutorSession

    learner = User.objects.create_user(email=f"{email_prefix}-{time.time_ns()}@bench.test", password="x")
    sessions = TutorSession.objects.bulk_create(
        TutorSession(learner=learner, model="gpt-realtime", voice="marin", instructions="")
        for _ in range(count + 1)
    )
    client = Client()
    client.force_login(learner)
    return client.cookies["sessionid"].value, [s.pk for s in sessions]


def raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def daphne(database_url: str, env: dict[str, str] | None = None) -> Daphne:
    """daphne serving the app on a free port as the benchmarks run it: on ``database_url``, at
    LOG_LEVEL=warning without an access log, with the open-files limit raised for many sockets.
    Use it in ``with``; it has ``base_url``, ``pid`` and ``log()``."""
    try:
        return daphne_running(
            database_url=database_url,
            env={"LOG_LEVEL": "warning", **(env or {})},
            verbosity=0,
            ready_path="/healthz",
            log_prefix="bench-daphne-",
            preexec_fn=raise_open_files_limit,
        )
    except DaphneNotStarted as failure:
        raise SystemExit(str(failure)) from None


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), linear between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[max(0, min(98, round(q) - 1))]


class Progress:
    """A progress line on stderr, at most a few times a second."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.shown = label, total, 0, 0.0
        self.started = time.monotonic()

    def step(self, n: int = 1) -> None:
        self.done += n
        now = time.monotonic()
        if now - self.shown > 0.5 or self.done >= self.total:
            self.shown = now
            print(
                f"\r  {self.label}: {self.done}/{self.total} ({now - self.started:.0f} s)",
                end="",
                file=sys.stderr,
            )
            if self.done >= self.total:
                print(file=sys.stderr)


def load_average() -> str:
    """The machine's 1, 5 and 15-minute load averages: other work competes for the cores."""
    with contextlib.suppress(OSError):
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    return "?"


def header(title: str, args) -> None:
    print(f"# {title}")
    print(f"machine: {machine()}")
    print(f"command: python {' '.join(sys.argv)}")
    print(f"load average at start: {load_average()}")
    atexit.register(lambda: print(f"load average at end: {load_average()}"))
    if args.smoke:
        print("mode: smoke (few samples: the figures are not meaningful)")


def figure(
    name: str, value: float, baseline: float, unit: str, *, target: str = "", better: str = "lower"
) -> float:
    """Print one figure beside its baseline and their ratio; returns the ratio."""
    ratio = value / baseline if baseline else float("inf")
    line = f"{name}: {value:.3f} {unit} | baseline {baseline:.3f} {unit} | ratio {ratio:.2f}"
    if target:
        line += f" | target {target}"
    print(line)
    return ratio


def verdict(name: str, met: bool, detail: str) -> None:
    print(f"target {name}: {'met' if met else 'MISSED'} ({detail})")

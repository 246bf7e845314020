"""Each benchmark in bench/ runs in a few seconds with --smoke and prints its figures.

The figures of a smoke run mean nothing (a handful of samples); the full runs and their results
are in docs/benchmarks.md. This only keeps the scripts working.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.browser import chromium_missing_reason

REPO = Path(__file__).resolve().parent.parent
ON_POSTGRES = os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://"))


NPM_UNAVAILABLE = 3  # bench/browser.py: the npm registry could not be reached


def smoke(script: str, timeout: int = 240) -> str:
    proc = subprocess.run(
        [sys.executable, f"bench/{script}", "--smoke"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    if proc.returncode == NPM_UNAVAILABLE and "npm install failed" in proc.stderr:
        pytest.skip("the official client could not be installed from npm: " + proc.stderr[-300:])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert out.startswith("# ") and "machine: " in out and "mode: smoke" in out, out
    return out


def assert_figure(out: str, name: str) -> None:
    """A line 'name: <value> <unit> | baseline <value> <unit> | ratio <value>'."""
    pattern = rf"^{re.escape(name)}: [\d.]+ \S+ \| baseline [\d.]+ \S+ \| ratio [\d.]+"
    assert re.search(pattern, out, re.MULTILINE), f"no figure {name!r} in:\n{out}"


def test_mint_prints_latencies_ratios_and_queries_per_mint():
    out = smoke("mint.py")
    assert "settings: DEBUG=False" in out  # the production settings
    assert_figure(out, "p50 latency")
    assert_figure(out, "p99 latency")
    assert_figure(out, "p50 latency (150 ms stub)")
    assert_figure(out, "p50 latency, 1,000 words vs 10 words")
    assert re.search(r"^SQL queries per mint \(10 words\): \d+", out, re.MULTILINE), out
    assert "target queries per mint constant and <= 5:" in out


@pytest.mark.skipif(
    not ON_POSTGRES, reason="bench/save.py measures PostgreSQL: set DATABASE_URL=postgres://…"
)
def test_save_prints_throughput_and_ack_latencies():
    out = smoke("save.py")
    assert_figure(out, "items/s (back to back)")
    assert_figure(out, "ack p99 (paced, every 1 s)")
    assert re.search(r"^items saved through Channels: (\d+) \(expected \1\)", out, re.MULTILINE), (
        out
    )


def test_sockets_prints_memory_per_socket():
    out = smoke("sockets.py")
    assert re.search(
        r"^memory per socket: [\d.]+ KiB \| baseline \(whole process\) \d+ KiB \| ratio [\d.]+",
        out,
        re.MULTILINE,
    ), out
    assert re.search(r"^sockets open and idle: (\d+) of \1$", out, re.MULTILINE), out


@pytest.mark.browser
@pytest.mark.skipif(
    shutil.which("npm") is None, reason="npm is needed to install the official client"
)
def test_browser_prints_times_and_bytes_against_the_official_client():
    reason = chromium_missing_reason()
    if reason:
        pytest.skip(reason)
    out = smoke("browser.py", timeout=600)
    assert_figure(out, '"Start" to session.updated, p50')
    assert_figure(out, "JavaScript bytes")
    assert "official client: @openai/agents-realtime " in out

"""The tutor's limit and price settings: defaults, decimals, and clear errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NAMES = [
    "TUTOR_MINTS_PER_MINUTE", "TUTOR_MAX_LIVE_SESSIONS", "TUTOR_MAX_SESSION_MINUTES",
    "REALTIME_PRICE_TEXT_IN_PER_MTOK", "REALTIME_PRICE_TEXT_OUT_PER_MTOK",
    "REALTIME_PRICE_AUDIO_IN_PER_MTOK", "REALTIME_PRICE_AUDIO_OUT_PER_MTOK",
    "REALTIME_PRICE_CACHED_IN_PER_MTOK",
]
PROBE = (
    "import json, django; from django.conf import settings; django.setup();"
    f"print(json.dumps({{name: getattr(settings, name) for name in {NAMES!r}}}))"
)


def load(**overrides: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in NAMES and k != "DATABASE_URL"}
    environ.update(DJANGO_SETTINGS_MODULE="config.settings", **overrides)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )


def test_the_defaults():
    proc = load()
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == {
        "TUTOR_MINTS_PER_MINUTE": 5,
        "TUTOR_MAX_LIVE_SESSIONS": 1,
        "TUTOR_MAX_SESSION_MINUTES": 30.0,
        "REALTIME_PRICE_TEXT_IN_PER_MTOK": 4.0,
        "REALTIME_PRICE_TEXT_OUT_PER_MTOK": 16.0,
        "REALTIME_PRICE_AUDIO_IN_PER_MTOK": 32.0,
        "REALTIME_PRICE_AUDIO_OUT_PER_MTOK": 64.0,
        "REALTIME_PRICE_CACHED_IN_PER_MTOK": 0.4,
    }


def test_the_session_length_takes_a_decimal_number():
    proc = load(TUTOR_MAX_SESSION_MINUTES="0.1", TUTOR_MINTS_PER_MINUTE="12")
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert (loaded["TUTOR_MAX_SESSION_MINUTES"], loaded["TUTOR_MINTS_PER_MINUTE"]) == (0.1, 12)


def test_a_bad_value_stops_start_up_naming_the_variable():
    for name, value in [("TUTOR_MINTS_PER_MINUTE", "0"), ("TUTOR_MAX_LIVE_SESSIONS", "one"),
                        ("TUTOR_MAX_SESSION_MINUTES", "0"), ("REALTIME_PRICE_AUDIO_IN_PER_MTOK", "-1")]:
        proc = load(**{name: value})
        assert proc.returncode != 0
        assert "ImproperlyConfigured" in proc.stderr and name in proc.stderr

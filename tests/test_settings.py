"""Settings come from the environment; malformed values stop start-up clearly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from config import env

ROOT = Path(__file__).resolve().parent.parent
PROBE = (
    "import json, django; from django.conf import settings; django.setup();"
    "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'],"
    " 'db': str(settings.DATABASES['default']['NAME']),"
    " 'layer': settings.CHANNEL_LAYERS['default']['BACKEND'], 'debug': settings.DEBUG,"
    " 'standin': settings.REALTIME_STANDIN, 'base': settings.REALTIME_BASE_URL,"
    " 'email': settings.EMAIL_BACKEND, 'model': settings.REALTIME_MODEL,"
    " 'cache': settings.CACHES['default']['BACKEND'], 'signup': settings.SIGNUP_MODE,"
    " 'signup_minutes': settings.SIGNUP_VOICE_MINUTES, 'verification': settings.ACCOUNT_EMAIL_VERIFICATION,"
    " 'call_setup': settings.REALTIME_CALL_SETUP, 'key_ttl': settings.REALTIME_TOKEN_TTL_SECONDS}))"
)
OUR_VARS = {
    "REALTIME_CALL_SETUP", "REALTIME_TOKEN_TTL_SECONDS",
    "DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "ALLOWED_HOSTS", "OPENAI_API_KEY",
    "REALTIME_STANDIN", "REALTIME_BASE_URL", "REALTIME_MODEL", "CSRF_TRUSTED_ORIGINS",
    "EMAIL_HOST", "ACCOUNT_EMAIL_VERIFICATION", "LOG_LEVEL", "SIGNUP_MODE", "SIGNUP_VOICE_MINUTES",
    "ACCOUNT_PREVENT_ENUMERATION", "CACHE_KEY_PREFIX", "TRUSTED_PROXY_COUNT",
}


def load_settings(**overrides: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in OUR_VARS}
    environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    environ.update(overrides)
    return subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=60
    )


def test_it_runs_embedded_with_no_environment():
    proc = load_settings()
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    assert loaded["engine"] == "django.db.backends.sqlite3"
    assert loaded["layer"] == "channels.layers.InMemoryChannelLayer"
    assert loaded["debug"] is True
    assert loaded["standin"] is True
    assert loaded["base"] == ""
    assert loaded["email"] == "django.core.mail.backends.console.EmailBackend"
    assert loaded["model"] == "gpt-realtime"
    assert loaded["cache"] == "django.core.cache.backends.locmem.LocMemCache"
    assert (loaded["signup"], loaded["signup_minutes"], loaded["verification"]) == ("open", 20, "optional")


def test_it_switches_to_postgresql_and_redis():
    proc = load_settings(
        DATABASE_URL="postgres://parlance@127.0.0.1:5432/parlance", REDIS_URL="redis://127.0.0.1:6379/0"
    )
    assert proc.returncode == 0, proc.stderr
    loaded = json.loads(proc.stdout)
    # Django's backend, with the pool's borrow check of config/db_pool.py.
    assert loaded["engine"] == "config.postgresql"
    assert loaded["db"] == "parlance"
    assert loaded["layer"] == "channels_redis.core.RedisChannelLayer"
    assert loaded["cache"] == "config.cache.FallbackRedisCache"  # rate limits shared


def test_it_talks_to_openai_when_a_key_is_set():
    loaded = json.loads(load_settings(OPENAI_API_KEY="sk-test").stdout)
    assert loaded["standin"] is False
    assert loaded["base"] == "https://api.openai.com/v1"


def test_it_mounts_the_standin_without_debug_only_when_asked():
    prod = {"DEBUG": "off", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "parlance.example"}
    assert json.loads(load_settings(**prod).stdout)["standin"] is False
    assert json.loads(load_settings(REALTIME_STANDIN="on", **prod).stdout)["standin"] is True


def test_the_page_sets_up_calls_with_the_shortest_life_key_unless_told_otherwise():
    loaded = json.loads(load_settings().stdout)
    assert (loaded["call_setup"], loaded["key_ttl"]) == ("browser", 20)
    loaded = json.loads(load_settings(REALTIME_CALL_SETUP="Server", REALTIME_TOKEN_TTL_SECONDS="10").stdout)
    assert (loaded["call_setup"], loaded["key_ttl"]) == ("server", 10)


def test_without_debug_sign_up_gives_no_voice_minutes_and_verification_is_mandatory():
    prod = {"DEBUG": "off", "SECRET_KEY": "x" * 50, "ALLOWED_HOSTS": "parlance.example"}
    loaded = json.loads(load_settings(**prod).stdout)
    assert (loaded["signup_minutes"], loaded["verification"]) == (0, "mandatory")
    loaded = json.loads(load_settings(SIGNUP_MODE="invitation", SIGNUP_VOICE_MINUTES="5", **prod).stdout)
    assert (loaded["signup"], loaded["signup_minutes"]) == ("invitation", 5)


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"DEBUG": "maybe"}, "DEBUG"),
        ({"DATABASE_URL": "nonsense"}, "DATABASE_URL"),
        ({"DATABASE_URL": "mysql://u@h/db"}, "DATABASE_URL"),
        ({"REDIS_URL": "localhost:6379"}, "REDIS_URL"),
        ({"DEBUG": "off"}, "SECRET_KEY"),
        ({"CSRF_TRUSTED_ORIGINS": "parlance.example"}, "CSRF_TRUSTED_ORIGINS"),
        ({"REALTIME_TOKEN_TTL_SECONDS": "5"}, "REALTIME_TOKEN_TTL_SECONDS"),
        ({"REALTIME_CALL_SETUP": "page"}, "REALTIME_CALL_SETUP"),
        ({"ACCOUNT_EMAIL_VERIFICATION": "sometimes"}, "ACCOUNT_EMAIL_VERIFICATION"),
        ({"FSRS_DESIRED_RETENTION": "0.5"}, "FSRS_DESIRED_RETENTION"),
        ({"FSRS_DESIRED_RETENTION": "1.5"}, "FSRS_DESIRED_RETENTION"),
        ({"FSRS_DESIRED_RETENTION": "high"}, "FSRS_DESIRED_RETENTION"),
        ({"TUTOR_CLARITY_THRESHOLD": "-0.1"}, "TUTOR_CLARITY_THRESHOLD"),
        ({"TUTOR_CLARITY_THRESHOLD": "1.5"}, "TUTOR_CLARITY_THRESHOLD"),
        ({"TUTOR_CLARITY_THRESHOLD": "clear"}, "TUTOR_CLARITY_THRESHOLD"),
        ({"SIGNUP_MODE": "closed"}, "SIGNUP_MODE"),
        ({"SIGNUP_VOICE_MINUTES": "-1"}, "SIGNUP_VOICE_MINUTES"),
        ({"SIGNUP_VOICE_MINUTES": "601"}, "SIGNUP_VOICE_MINUTES"),
    ],
)
def test_it_refuses_malformed_values_naming_the_variable(overrides, named):
    proc = load_settings(**overrides)
    assert proc.returncode != 0
    last_line = proc.stderr.strip().splitlines()[-1]
    assert last_line.startswith("django.core.exceptions.ImproperlyConfigured:")
    assert named in last_line


def test_env_bool_reads_the_usual_words(monkeypatch):
    for word, expected in [("on", True), ("Yes", True), ("1", True), ("off", False), ("FALSE", False)]:
        monkeypatch.setenv("SOME_FLAG", word)
        assert env.env_bool("SOME_FLAG", not expected) is expected
    monkeypatch.delenv("SOME_FLAG")
    assert env.env_bool("SOME_FLAG", True) is True


def test_env_int_checks_its_bounds(monkeypatch):
    monkeypatch.setenv("SOME_NUMBER", "12")
    assert env.env_int("SOME_NUMBER", 1, minimum=10) == 12
    monkeypatch.setenv("SOME_NUMBER", "twelve")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env.env_int("SOME_NUMBER", 1)
    monkeypatch.setenv("SOME_NUMBER", "9")
    with pytest.raises(ImproperlyConfigured, match="minimum of 10"):
        env.env_int("SOME_NUMBER", 1, minimum=10)

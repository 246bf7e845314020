"""Unsafe production settings are refused by the system check and by daphne's start."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from config.checks import unsafe_settings_check

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.REALTIME_STANDIN = False
    settings.STANDIN_API_KEY = "sk-standin"
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.SIGNUP_MODE = "open"
    settings.SIGNUP_VOICE_MINUTES = 0
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    settings.ACCOUNT_RATE_LIMITS = {}
    settings.CSRF_TRUSTED_ORIGINS = ["https://parlance.example"]
    settings.REDIS_URL = "redis://redis:6379/0"
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    return settings


def ids() -> list[str]:
    return sorted(message.id for message in unsafe_settings_check())


def test_safe_production_settings_pass(production):
    assert ids() == []


def test_the_standin_with_its_public_key_is_an_error(production):
    production.REALTIME_STANDIN = True
    assert ids() == ["parlance.E001"]
    production.STANDIN_API_KEY = "sk-standin-7f3a9c1e5b2d4a6f8e0c"
    assert ids() == []


def test_console_email_is_an_error(production):
    production.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert ids() == ["parlance.E002"]


def test_open_signup_with_voice_minutes_and_no_verification_is_an_error(production):
    production.SIGNUP_VOICE_MINUTES = 20
    production.ACCOUNT_EMAIL_VERIFICATION = "none"
    assert "parlance.E003" in ids()
    production.SIGNUP_MODE = "invitation"
    assert ids() == []


def test_rate_limits_off_is_an_error(production):
    production.ACCOUNT_RATE_LIMITS = False
    assert ids() == ["parlance.E004"]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"CSRF_TRUSTED_ORIGINS": []}, "parlance.W001"),
        ({"ACCOUNT_EMAIL_VERIFICATION": "optional"}, "parlance.W002"),
        ({"REDIS_URL": ""}, "parlance.W003"),
        ({"ALLAUTH_TRUSTED_PROXY_COUNT": 0}, "parlance.W004"),
    ],
)
def test_weaker_settings_are_warnings(production, change, expected):
    for name, value in change.items():
        setattr(production, name, value)
    assert ids() == [expected]


def test_development_allows_everything(production):
    production.DEBUG = True
    production.REALTIME_STANDIN = True
    production.EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
    assert ids() == []


def test_daphne_refuses_to_load_the_app_with_an_unsafe_setting():
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DEBUG", "EMAIL_", "REALTIME_", "STANDIN_"))},
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "off",
        "SECRET_KEY": "k" * 50,
        "ALLOWED_HOSTS": "parlance.example",
        "EMAIL_HOST": "smtp.parlance.example",
        "REALTIME_STANDIN": "on",
    }
    proc = subprocess.run(
        [sys.executable, "-c", "import config.asgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode != 0
    assert "parlance.E001" in proc.stderr

"""`manage.py check --deploy` is clean with production settings from the environment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# The README's production environment (Production, step 1), with placeholder values.
PRODUCTION = {
    "DEBUG": "off",
    "SECRET_KEY": "k" * 20 + "-production-secret-with-enough-entropy-0123456789",
    "ALLOWED_HOSTS": "parlance.example",
    "CSRF_TRUSTED_ORIGINS": "https://parlance.example",
    "EMAIL_HOST": "smtp.parlance.example",
    "REDIS_URL": "redis://redis:6379/0",
    "TRUSTED_PROXY_COUNT": "1",
}


def run_check(**overrides):
    environ = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    environ.update({**PRODUCTION, **overrides})
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=environ, capture_output=True, text=True, timeout=120,
    )


def test_production_settings_pass_the_deploy_check():
    proc = run_check()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "no issues (0 silenced)" in proc.stdout


def test_the_deploy_check_catches_insecure_cookies():
    proc = run_check(SESSION_COOKIE_SECURE="off")
    assert proc.returncode != 0
    assert "SESSION_COOKIE_SECURE" in proc.stdout + proc.stderr


def test_the_deploy_check_refuses_the_standin_with_its_public_key():
    proc = run_check(REALTIME_STANDIN="on")
    assert proc.returncode != 0
    assert "parlance.E001" in proc.stdout + proc.stderr


def test_the_deploy_check_refuses_console_email():
    proc = run_check(EMAIL_HOST="")
    assert proc.returncode != 0
    assert "parlance.E002" in proc.stdout + proc.stderr

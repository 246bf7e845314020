"""`manage.py check --deploy` is clean with production settings from the environment."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_check(**overrides):
    environ = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS"}}
    environ.update(
        DEBUG="off",
        SECRET_KEY="k" * 20 + "-production-secret-with-enough-entropy-0123456789",
        ALLOWED_HOSTS="parlance.example",
        CSRF_TRUSTED_ORIGINS="https://parlance.example",
        **overrides,
    )
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

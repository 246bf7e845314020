"""System checks that refuse unsafe production settings (``manage.py check``, ``migrate``, and
daphne's start through ``config.asgi``: see ``unsafe_settings_refuse``).

With ``DEBUG`` on everything is allowed: that is the embedded default for development. With it
off these are errors:

- ``parlance.E001`` the Realtime stand-in is on with its public default key ``sk-standin``;
- ``parlance.E002`` email goes to the console (no ``EMAIL_HOST``): password-reset and invitation
  links would be printed into the logs;
- ``parlance.E003`` anyone may sign up and get voice minutes without verifying an address;
- ``parlance.E004`` failed-login limits are off (``ACCOUNT_RATE_LIMITS=off``);

and these warnings:

- ``parlance.W001`` no ``CSRF_TRUSTED_ORIGINS``: WebSocket origins are checked by host only;
- ``parlance.W002`` open sign-up without mandatory verification tells who is registered;
- ``parlance.W003`` several processes need a shared cache for the limits: no ``REDIS_URL``;
- ``parlance.W004`` behind a TLS proxy (the production default) with ``TRUSTED_PROXY_COUNT=0``:
  rate limits and logs cannot tell clients apart (``config.access_log``);
- ``parlance.W005`` PostgreSQL without psycopg_pool installed: no connection pool.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.core.exceptions import ImproperlyConfigured

STANDIN_DEFAULT_KEY = "sk-standin"
CONSOLE_EMAIL = "django.core.mail.backends.console.EmailBackend"


def _unsafe() -> list:
    if settings.DEBUG:
        return []
    found = []
    if settings.REALTIME_STANDIN and settings.STANDIN_API_KEY in {"", STANDIN_DEFAULT_KEY}:
        found.append(Error(
            "REALTIME_STANDIN is on with the public default STANDIN_API_KEY: anyone can use the stand-in.",
            hint="Set STANDIN_API_KEY to a long random value, or turn REALTIME_STANDIN off.",
            id="parlance.E001",
        ))
    if settings.EMAIL_BACKEND == CONSOLE_EMAIL:
        found.append(Error(
            "Email goes to the console: password-reset and invitation links would be written to the logs.",
            hint="Set EMAIL_HOST (and EMAIL_HOST_USER, EMAIL_HOST_PASSWORD) to send real email.",
            id="parlance.E002",
        ))
    if (
        settings.SIGNUP_MODE == "open"
        and settings.SIGNUP_VOICE_MINUTES > 0
        and settings.ACCOUNT_EMAIL_VERIFICATION == "none"
    ):
        found.append(Error(
            "Anyone can sign up and use voice minutes without verifying an address.",
            hint="Set ACCOUNT_EMAIL_VERIFICATION=mandatory, SIGNUP_VOICE_MINUTES=0 or SIGNUP_MODE=invitation.",
            id="parlance.E003",
        ))
    if settings.ACCOUNT_RATE_LIMITS is False:
        found.append(Error(
            "ACCOUNT_RATE_LIMITS is off: passwords can be guessed without limit.",
            hint="Leave ACCOUNT_RATE_LIMITS unset (on) in production.",
            id="parlance.E004",
        ))
    if not settings.CSRF_TRUSTED_ORIGINS:
        found.append(Warning(
            "CSRF_TRUSTED_ORIGINS is empty: WebSocket origins are checked by host only (any scheme or port).",
            hint="Set CSRF_TRUSTED_ORIGINS=https://your.host.",
            id="parlance.W001",
        ))
    if (
        settings.SIGNUP_MODE == "open"
        and settings.ACCOUNT_EMAIL_VERIFICATION != "mandatory"
    ):
        found.append(Warning(
            "Open sign-up without mandatory email verification tells anyone which addresses are registered.",
            hint="Set ACCOUNT_EMAIL_VERIFICATION=mandatory, or SIGNUP_MODE=invitation.",
            id="parlance.W002",
        ))
    if not settings.REDIS_URL:
        found.append(Warning(
            "No REDIS_URL: rate limits are counted per process, so several processes allow more tries.",
            hint="Set REDIS_URL when running more than one process.",
            id="parlance.W003",
        ))
    if settings.DB_POOL_MISSING:
        found.append(Warning(
            "DATABASE_URL is PostgreSQL but psycopg_pool is not installed: every request opens "
            "its own database connection.",
            hint="Install psycopg[pool] (it is in requirements.lock), or set DB_POOL=off to say so.",
            id="parlance.W005",
        ))
    if settings.SECURE_PROXY_SSL_HEADER and settings.ALLAUTH_TRUSTED_PROXY_COUNT == 0:
        found.append(Warning(
            "Behind a proxy (BEHIND_TLS_PROXY) but TRUSTED_PROXY_COUNT is 0: client addresses for "
            "rate limits and logs are the proxy's, or unknown.",
            hint="Set TRUSTED_PROXY_COUNT to the number of proxies in front of the app (1 for one).",
            id="parlance.W004",
        ))
    return found


@register(Tags.security)
def unsafe_settings_check(app_configs=None, **kwargs) -> list:
    return _unsafe()


def unsafe_settings_refuse() -> None:
    """Refuse to serve with an unsafe production setting (the errors above)."""
    errors = [message for message in _unsafe() if message.is_serious()]
    if errors:
        raise ImproperlyConfigured(
            "Unsafe production settings:\n" + "\n".join(f"{e.id}: {e.msg} {e.hint}" for e in errors)
        )

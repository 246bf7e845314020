"""Parlance settings: every value comes from the environment.

With no environment at all this runs the embedded default: SQLite, the
in-memory channel layer, DEBUG on, console email, and the local Realtime
stand-in. ``DATABASE_URL`` and ``REDIS_URL`` switch to PostgreSQL and Redis.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import (
    database_from_url,
    env_bool,
    env_choice,
    env_float,
    env_int,
    env_list,
    env_str,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent

DEBUG = env_bool("DEBUG", True)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-parlance-do-not-use-in-production-0123456789"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
for _origin in CSRF_TRUSTED_ORIGINS:
    if "://" not in _origin:
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entry {_origin!r} needs a scheme, e.g. https://{_origin}."
        )

INSTALLED_APPS = [
    "daphne",
    "config.apps.ConfigConfig",  # its system checks (config/checks.py)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "channels",
    "allauth",
    "allauth.account",
    "accounts",
    "tutor",
    "voice",
    "staff",
    "standin",
]

MIDDLEWARE = [
    # First, so every response (redirects and errors too) carries X-Request-ID.
    "config.request_id.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "accounts.context_processors.voice_notice",
                "accounts.context_processors.signup_open",
                "voice.context_processors.voice_minutes",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": database_from_url("DATABASE_URL", DATABASE_URL)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
        }
    }
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 0, minimum=0)
# On PostgreSQL every request and socket handler borrows a connection from a pool of open
# ones (psycopg_pool) instead of opening its own: Django's ASGI handler runs each request on
# a thread of its own, so DB_CONN_MAX_AGE reused nothing there. The pool keeps connections
# itself, so CONN_MAX_AGE is 0 with it (DB_CONN_MAX_AGE applies only with DB_POOL=off).
DB_POOL = DB_POOL_MISSING = False
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    DB_POOL = env_bool("DB_POOL", True)
    if DB_POOL and importlib.util.find_spec("psycopg_pool") is None:
        DB_POOL, DB_POOL_MISSING = False, True  # config/checks.py warns (parlance.W005)
    if DB_POOL:
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        # Each borrowed connection is checked first, so one that PostgreSQL closed (a restart,
        # a failover) is replaced, not handed to a request to fail on: by a look at its socket,
        # not psycopg's empty query per borrow (config/db_pool.py, config/postgresql/).
        DATABASES["default"]["ENGINE"] = "config.postgresql"
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": env_int("DB_POOL_MIN_SIZE", 2, minimum=0),
            "max_size": env_int("DB_POOL_MAX_SIZE", 20, minimum=1),
            # A request waits this long for a free connection, then fails.
            "timeout": env_float("DB_POOL_TIMEOUT_SECONDS", 10.0, minimum=0.1),
        }
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    # One test database per test run, so parallel runs against one server don't collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file (not in-memory) test database, so a daphne process started by an
    # end-to-end test shares it with the test run.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
    # One file per test run, so parallel runs in one checkout don't share it.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"parlance-test-{os.getpid()}.sqlite3")
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Channels -------------------------------------------------------------
REDIS_URL = env_url("REDIS_URL", schemes={"redis", "rediss", "unix"})
if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            # channels-redis waits on a blocking Redis read of 5 s; redis-py's default read
            # timeout is also 5 s, which broke every idle socket. Give reads more room.
            "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 15}]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
# --- Cache ----------------------------------------------------------------
# allauth counts failed logins and other rate limits in the default cache, and the guardrail
# its moderation checks in "limits": with several processes the counts must be shared, so with
# Redis both are Redis (answered from local memory while Redis is down: config/cache.py).
def _cache(prefix: str) -> dict:
    if not REDIS_URL:
        return {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": prefix}
    return {
        "BACKEND": "config.cache.FallbackRedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": f"{env_str('CACHE_KEY_PREFIX', 'parlance')}-{prefix}",
        "OPTIONS": {"socket_connect_timeout": 2, "socket_timeout": 2},
    }


CACHES = {"default": _cache("default"), "limits": _cache("limits")}

# --- Accounts -------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # Django's and allauth's backends, reading the signed-in user without compiling a query
    # (config/auth.py). The originals stay listed after them, so a session signed in
    # through one of them before still finds its backend.
    "config.auth.ModelBackend",
    "config.auth.AuthenticationBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
# Django's database sessions, read in plain SQL (config/auth.py).
SESSION_ENGINE = "config.auth"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_REDIRECT_URL = "/"
LOGIN_URL = "account_login"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_UNIQUE_EMAIL = True
# Mandatory in production: only then can sign-up hide which addresses are registered.
ACCOUNT_EMAIL_VERIFICATION = env_choice(
    "ACCOUNT_EMAIL_VERIFICATION", "optional" if DEBUG else "mandatory", {"none", "optional", "mandatory"}
)
ACCOUNT_PREVENT_ENUMERATION = env_bool("ACCOUNT_PREVENT_ENUMERATION", True)
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# Who may create an account: "open" (anyone, on the sign-up page) or "invitation" (staff
# invite learners in the admin; the sign-up page says so and refuses).
SIGNUP_MODE = env_choice("SIGNUP_MODE", "open", {"open", "invitation"})
# Daily voice minutes a self-signed-up learner starts with (staff change them in the admin).
# With email verification on, voice needs a verified address as well (accounts.adapter).
SIGNUP_VOICE_MINUTES = env_int("SIGNUP_VOICE_MINUTES", 20 if DEBUG else 0, minimum=0, maximum=600)
ACCOUNT_LOGOUT_REDIRECT_URL = "/"
ACCOUNT_RATE_LIMITS = {} if env_bool("ACCOUNT_RATE_LIMITS", True) else False
ALLAUTH_TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)

# --- Email ----------------------------------------------------------------
EMAIL_HOST = env_str("EMAIL_HOST")
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, minimum=1, maximum=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Parlance <noreply@localhost>")
# How emails name the site, and the host their links point at (empty: the request's host).
SITE_NAME = env_str("SITE_NAME", "Parlance")
SITE_DOMAIN = env_str("SITE_DOMAIN", "")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# --- Internationalisation and static files --------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG

# --- Security (production values whenever DEBUG is off) -------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if env_bool("BEHIND_TLS_PROXY", not DEBUG) else None
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

# --- Realtime tutor -------------------------------------------------------
OPENAI_API_KEY = env_str("OPENAI_API_KEY")
REALTIME_STANDIN = env_bool("REALTIME_STANDIN", (not OPENAI_API_KEY) and DEBUG)
STANDIN_API_KEY = env_str("STANDIN_API_KEY", "sk-standin")
# The stand-in holds the learner's transcript back until the tutor's reply has started, as the
# real API's asynchronous transcription often does (standin/README.md).
STANDIN_TRANSCRIPT_AFTER_REPLY = env_bool("STANDIN_TRANSCRIPT_AFTER_REPLY", False)
# Seconds between the stand-in's streamed pieces of a reply (about 12 characters each): longer
# keeps a reply "in progress" for a while, as a real model's is.
STANDIN_PACE_SECONDS = env_float("STANDIN_PACE_SECONDS", 0.02, minimum=0.0)
# Empty means "the stand-in mounted on this very server": resolved per request.
REALTIME_BASE_URL = env_url(
    "REALTIME_BASE_URL",
    "" if REALTIME_STANDIN and not OPENAI_API_KEY else "https://api.openai.com/v1",
    schemes={"http", "https"},
)
REALTIME_MODEL = env_str("REALTIME_MODEL", "gpt-realtime")
REALTIME_VOICE = env_str("REALTIME_VOICE", "marin")
REALTIME_TRANSCRIBE_MODEL = env_str("REALTIME_TRANSCRIBE_MODEL", "gpt-4o-mini-transcribe")
# The shortest life the page needs: key minted to call created takes under 0.1 s against the
# stand-in and a second or two against OpenAI; the page reuses a key only with 10 s left (keys.js).
REALTIME_TOKEN_TTL_SECONDS = env_int("REALTIME_TOKEN_TTL_SECONDS", 20, minimum=10, maximum=7200)
# Who creates the WebRTC call: "browser" (the page gets a short-lived ek_ key and POSTs its SDP
# offer to the Realtime API itself) or "server" (the page POSTs its offer to /tutor/calls/ and
# the server creates the call with its own key, so it knows every call id first-hand).
REALTIME_CALL_SETUP = env_choice("REALTIME_CALL_SETUP", "browser", {"browser", "server"})
REALTIME_HTTP_TIMEOUT_SECONDS = env_float("REALTIME_HTTP_TIMEOUT_SECONDS", 10.0, minimum=0.1)
# The server joins each reported call over the Realtime API's sideband and records grades,
# practice, usage and speaking time from what it sees there (voice/sideband.py).
REALTIME_SIDEBAND = env_bool("REALTIME_SIDEBAND", True)
# Run the sideband loop in each web process (off: run `manage.py run_sideband` instead).
SIDEBAND_IN_PROCESS = env_bool("SIDEBAND_IN_PROCESS", True)
SIDEBAND_LEASE_SECONDS = env_float("SIDEBAND_LEASE_SECONDS", 10.0, minimum=1.0)
SIDEBAND_CLAIM_SECONDS = env_float("SIDEBAND_CLAIM_SECONDS", 2.0, minimum=0.05)

# --- Spaced repetition -------------------------------------------------------
# The share of words a learner should still recall when each comes due (FSRS,
# tutor/srs.py); a learner's own value on their profile (User.desired_retention)
# wins over it.
FSRS_DESIRED_RETENTION = env_float("FSRS_DESIRED_RETENTION", 0.9, minimum=0.7)

# A learner with more words overdue than this is flagged on their class's overview.
CLASS_OVERDUE_THRESHOLD = env_int("CLASS_OVERDUE_THRESHOLD", 20, minimum=0)
if FSRS_DESIRED_RETENTION > 0.99:
    raise ImproperlyConfigured("FSRS_DESIRED_RETENTION must be at most 0.99.")
# How sure the transcription must be of a word (0..1, from its logprobs, tutor/clarity.py)
# for a correct answer to count as said clearly (Good) rather than unclearly (Hard).
# Measured on the stand-in's espeak recordings: docs/ratings.md.
TUTOR_CLARITY_THRESHOLD = env_float("TUTOR_CLARITY_THRESHOLD", 0.7, minimum=0.0)
if TUTOR_CLARITY_THRESHOLD > 1.0:
    raise ImproperlyConfigured("TUTOR_CLARITY_THRESHOLD must be at most 1.")

# --- Tutor limits and cost estimate ----------------------------------------
# Enforced by the server when it mints a key and by a hang-up it schedules
# (tutor/limits.py, tutor/hangups.py). A learner's daily minutes are on their
# profile (User.daily_voice_minutes).
TUTOR_MINTS_PER_MINUTE = env_int("TUTOR_MINTS_PER_MINUTE", 5, minimum=1)
TUTOR_MAX_LIVE_SESSIONS = env_int("TUTOR_MAX_LIVE_SESSIONS", 1, minimum=1)
TUTOR_MAX_SESSION_MINUTES = env_float("TUTOR_MAX_SESSION_MINUTES", 30.0, minimum=0.05)
# What the conversation socket stores (voice/items.py): items and bytes (text and raw data)
# per session and per learner per day; past a cap an item is refused with too_many/too_large.
TUTOR_MAX_ITEMS_PER_SESSION = env_int("TUTOR_MAX_ITEMS_PER_SESSION", 1_000, minimum=1)
TUTOR_MAX_ITEM_BYTES_PER_SESSION = env_int("TUTOR_MAX_ITEM_BYTES_PER_SESSION", 2_000_000, minimum=1)
TUTOR_MAX_ITEMS_PER_LEARNER_DAY = env_int("TUTOR_MAX_ITEMS_PER_LEARNER_DAY", 3_000, minimum=1)
TUTOR_MAX_ITEM_BYTES_PER_LEARNER_DAY = env_int("TUTOR_MAX_ITEM_BYTES_PER_LEARNER_DAY", 6_000_000, minimum=1)
# Group commit of conversation items (voice.items.ItemBatcher): the items that arrive together
# in a process share one transaction. Off: each item is its own two-statement transaction,
# saved side by side on the worker threads (docs/benchmarks.md measured both).
TUTOR_ITEM_GROUP_COMMIT = env_bool("TUTOR_ITEM_GROUP_COMMIT", True)
# Prices per million tokens for the staff cost estimate (USD; defaults are
# gpt-realtime's list prices, check the model's pricing page).
REALTIME_PRICE_TEXT_IN_PER_MTOK = env_float("REALTIME_PRICE_TEXT_IN_PER_MTOK", 4.0, minimum=0)
REALTIME_PRICE_TEXT_OUT_PER_MTOK = env_float("REALTIME_PRICE_TEXT_OUT_PER_MTOK", 16.0, minimum=0)
REALTIME_PRICE_AUDIO_IN_PER_MTOK = env_float("REALTIME_PRICE_AUDIO_IN_PER_MTOK", 32.0, minimum=0)
REALTIME_PRICE_AUDIO_OUT_PER_MTOK = env_float("REALTIME_PRICE_AUDIO_OUT_PER_MTOK", 64.0, minimum=0)
REALTIME_PRICE_CACHED_IN_PER_MTOK = env_float("REALTIME_PRICE_CACHED_IN_PER_MTOK", 0.4, minimum=0)

# --- Output guardrail -------------------------------------------------------
# The tutor's words are checked against these terms (whole words, any case or accents);
# with a key set, GUARDRAIL_MODERATION also asks OpenAI's moderation endpoint.
GUARDRAIL_BLOCKED_TERMS = env_list(
    "GUARDRAIL_BLOCKED_TERMS",
    ["fuck", "fucking", "shit", "bitch", "cunt", "motherfucker", "kill yourself", "mierda", "puta", "joder", "gilipollas"],
)
GUARDRAIL_MODERATION = env_bool("GUARDRAIL_MODERATION", False)
# Moderation requests a minute, per conversation socket and per learner (voice/guardrail.py);
# the learner's count is shared by every process through the "limits" cache.
GUARDRAIL_CHECKS_PER_MINUTE_PER_SOCKET = env_int("GUARDRAIL_CHECKS_PER_MINUTE_PER_SOCKET", 60, minimum=1)
GUARDRAIL_CHECKS_PER_MINUTE_PER_LEARNER = env_int("GUARDRAIL_CHECKS_PER_MINUTE_PER_LEARNER", 120, minimum=1)
OPENAI_BASE_URL = env_url("OPENAI_BASE_URL", "https://api.openai.com/v1", schemes={"http", "https"})

# --- Content Security Policy (django-csp) ---------------------------------
# Pages load only their own scripts and styles; the browser may connect to
# this server (fetch, WebSocket) and to the Realtime API for WebRTC set-up.
from urllib.parse import urlsplit as _urlsplit  # noqa: E402

from csp.constants import NONE, SELF  # noqa: E402

_realtime_origin = (
    "{0.scheme}://{0.netloc}".format(_urlsplit(REALTIME_BASE_URL)) if REALTIME_BASE_URL else None
)
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF, *([_realtime_origin] if _realtime_origin else [])],
        "media-src": [SELF, "blob:", "mediastream:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Logging --------------------------------------------------------------
# Every line carries the request id (config.request_id); keys are masked (config.logging).
LOG_LEVEL = env_choice("LOG_LEVEL", "info", {"debug", "info", "warning", "error"}).upper()
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", {"plain", "json"})
from config.logging import logging_config  # noqa: E402

LOGGING = logging_config(level=LOG_LEVEL, fmt=LOG_FORMAT)

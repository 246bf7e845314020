"""Log lines with the request id, as JSON lines or plain text, and never a secret.

``logging_config(level=..., fmt=...)`` builds the ``LOGGING`` dict for settings. Both
formatters pass their whole output (message, arguments, exception text) through
``redact``, which masks API keys (``sk-…``), browser keys (``ek_…``), bearer tokens and the
configured server keys, whatever logger wrote them, and the one-off keys of password-reset,
invitation and email-confirmation links. daphne's access lines come through here too
(``config.access_log``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re

from config.request_id import request_id_current

SECRET_PATTERNS = [
    re.compile(r"\bsk-[A-Za-z0-9_\-]{3,}"),
    re.compile(r"\bek_[A-Za-z0-9_\-]{3,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9_\-.~+/=]{3,}"),
]
MASK = "[redacted]"
# One-off keys in URLs (allauth's password reset, which invitations use too, and email
# confirmation): the path up to the key is kept, the key is masked.
URL_KEY_PATTERNS = [
    re.compile(r"(/password/reset/key/)[^/\s\"'?#]+"),
    re.compile(r"(/confirm-email/)[^/\s\"'?#]+"),
    re.compile(r"(?i)([?&](?:key|token|code)=)[^&\s\"'#]+"),
]
MIN_SECRET_CHARS = 8


def _configured_secrets() -> list[str]:
    try:
        from django.conf import settings

        values = [settings.OPENAI_API_KEY, settings.STANDIN_API_KEY, settings.SECRET_KEY]
    except Exception:  # settings not ready (early start-up): the patterns still apply
        return []
    return [value for value in values if isinstance(value, str) and len(value) >= MIN_SECRET_CHARS]


def redact(text: str) -> str:
    """``text`` with every key-like token and every configured secret masked."""
    for secret in _configured_secrets():
        text = text.replace(secret, MASK)
    for pattern in SECRET_PATTERNS:
        text = pattern.sub(MASK, text)
    for pattern in URL_KEY_PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text


class RequestIdFilter(logging.Filter):
    """Adds ``record.request_id``: the id of the request being handled, or ``-``.

    Django logs a response's status (``django.request``) after the middleware has
    returned, with the request attached: its id is taken from there.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        _request_id_set(record)
        return True


def _request_id_set(record: logging.LogRecord) -> str:
    if not getattr(record, "request_id", None):
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or request_id_current()
    return record.request_id


class PlainFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        _request_id_set(record)
        return redact(super().format(record))


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, request_id, message (+ exception)."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": dt.datetime.fromtimestamp(record.created, dt.timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "request_id": _request_id_set(record),
            "message": redact(record.getMessage()),
        }
        if record.exc_info:
            line["exception"] = redact(self.formatException(record.exc_info))
        elif record.exc_text:
            line["exception"] = redact(record.exc_text)
        if record.stack_info:
            line["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(line, ensure_ascii=False, default=str)


def logging_config(*, level: str, fmt: str) -> dict:
    """The ``LOGGING`` setting: one console handler, ``fmt`` ``json`` or ``plain``."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "config.logging.RequestIdFilter"}},
        "formatters": {
            "plain": {"()": "config.logging.PlainFormatter"},
            "json": {"()": "config.logging.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": fmt,
                "filters": ["request_id"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # Django's own console handler (DEBUG only) would print a second, plain copy.
            "django": {"handlers": [], "level": "INFO", "propagate": True},
            "django.db.backends": {"level": "INFO"},
            "aioice": {"level": "WARNING"},
            "aiortc": {"level": "WARNING"},
        },
    }

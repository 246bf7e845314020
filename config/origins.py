"""Which page origins may open a WebSocket.

In production (``CSRF_TRUSTED_ORIGINS`` set) only those exact origins: scheme, host and port
must all match, so ``http://parlance.example`` or ``https://parlance.example:8443`` is refused
when ``https://parlance.example`` is the site. Without them (local development and the tests,
which connect from ``http://localhost:8000`` or ``http://127.0.0.1:<port>``) any origin whose
host is in ``ALLOWED_HOSTS`` is accepted, as Channels' ``AllowedHostsOriginValidator`` does.
"""

from __future__ import annotations

from channels.security.websocket import AllowedHostsOriginValidator, OriginValidator
from django.conf import settings


def websocket_origins() -> list[str]:
    """``CSRF_TRUSTED_ORIGINS`` in Channels' spelling (``https://.example.com`` for Django's
    ``https://*.example.com``)."""
    return [origin.lower().replace("://*.", "://.") for origin in settings.CSRF_TRUSTED_ORIGINS]


def websocket_origin_validator(application):
    """``application`` behind the origin check described above."""
    origins = websocket_origins()
    if origins:
        return OriginValidator(application, origins)
    return AllowedHostsOriginValidator(application)

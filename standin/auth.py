"""Keys: which key a request or a socket carries, whether it is the server key, what session it opens.

One place for the HTTP views and the WebSocket consumers, so both answer a key the same way.
"""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from django.utils import timezone

from standin import config
from standin.models import ClientSecret

KEY_SUBPROTOCOL = "openai-insecure-api-key."
NO_KEY_MESSAGE = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header using "
    "Bearer auth (i.e. Authorization: Bearer YOUR_KEY)."
)


def bearer(header: str) -> str | None:
    """The key of an ``Authorization: Bearer …`` header value."""
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


def socket_key(scope: dict[str, Any]) -> str | None:
    """The key of a WebSocket handshake: the ``Authorization`` header, else the browser form, a
    ``openai-insecure-api-key.<key>`` subprotocol."""
    for name, value in scope.get("headers", ()):
        if name.lower() == b"authorization":
            key = bearer(value.decode("latin1"))
            if key:
                return key
    for protocol in scope.get("subprotocols", ()):
        if protocol.startswith(KEY_SUBPROTOCOL) and len(protocol) > len(KEY_SUBPROTOCOL):
            return protocol[len(KEY_SUBPROTOCOL) :]
    return None


def is_server_key(key: str | None) -> bool:
    return key is not None and hmac.compare_digest(key.encode(), settings.STANDIN_API_KEY.encode())


def unauthorized_message(key: str | None) -> str:
    if key is None:
        return NO_KEY_MESSAGE
    shown = f"{key[:6]}…{key[-4:]}" if len(key) > 12 else "***"
    return f"Incorrect API key provided: {shown}."


def defaults() -> config.Defaults:
    return config.Defaults(model=settings.REALTIME_MODEL, voice=settings.REALTIME_VOICE)


async def minted_session(key: str | None) -> dict[str, Any] | None:
    """The session of a live (unexpired) ``ek_`` key, with a fresh session id; None otherwise.

    A client secret opens any number of sessions until it expires (the API's ``expires_after``:
    "A secret can be used to create multiple sessions until it expires"), and a session it
    opened goes on after that.
    """
    if key is None or not key.startswith("ek_"):
        return None
    secret = await ClientSecret.objects.filter(value=key, expires_at__gt=timezone.now()).afirst()
    if secret is None:
        return None
    session = dict(secret.session)
    session["id"] = config.new_id("sess")
    return session


async def session_for(key: str | None) -> dict[str, Any] | None:
    """The session a key opens: the default one for the server key, the minted one for an ek_ key."""
    if is_server_key(key):
        return config.session_default(defaults())
    return await minted_session(key)

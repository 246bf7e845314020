"""The one client of the Realtime API: minting browser keys and hanging up calls.

Every failure becomes ``RealtimeError`` with a message a learner may read and the status
our endpoint should answer. The server key goes in the ``Authorization`` header and
nowhere else: not in errors, not in log lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import json as json_module
import logging
import re
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
from django.conf import settings

logger = logging.getLogger(__name__)

STANDIN_PATH = "/standin/v1"
CALL_ID = re.compile(r"^[A-Za-z0-9_\-]{1,128}$")
SAFE_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


class RealtimeError(Exception):
    """The Realtime API could not do what we asked; ``message`` is safe to show."""

    def __init__(self, message: str, status: int, code: str = "upstream_error") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ClientSecret:
    value: str
    expires_at: int


@dataclass(frozen=True)
class Upstream:
    base_url: str
    api_key: str = field(repr=False)
    # Where the browser POSTs its SDP offer: the API's own URL, or for the stand-in on this
    # server a path, which the page resolves against the address it loaded the page from.
    browser_calls_url: str = ""

    @property
    def calls_url(self) -> str:
        return self.browser_calls_url or f"{self.base_url}/realtime/calls"


def _own_address(request) -> str:
    """This server as the server itself reaches it: the address daphne is listening on (the
    ASGI scope's ``server``), never the request's Host header, which the client chooses."""
    scope = getattr(request, "scope", None) or {}
    host, port = (scope.get("server") or (None, None))[:2]
    if host and port:
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}" + ("" if port == 80 else f":{port}")
    # No listening address (a unix socket, or Django's test client): the validated host.
    return f"http://{request.get_host()}"


def upstream_for(request) -> Upstream:
    """Where to mint, and with which key: the stand-in on this server, or the configured API.

    Every URL the server sends its key to comes from settings or from its own listening
    address: a forged ``Host`` header cannot send the key or the learner's instructions
    elsewhere.
    """
    if not settings.REALTIME_BASE_URL:
        base_url = _own_address(request) + STANDIN_PATH
        _STANDINS_SERVED.add(base_url[:255])
        return Upstream(
            base_url=base_url,
            api_key=settings.STANDIN_API_KEY,
            browser_calls_url=f"{STANDIN_PATH}/realtime/calls",
        )
    api_key = settings.OPENAI_API_KEY or settings.STANDIN_API_KEY
    if not api_key:
        raise RealtimeError("The tutor is not configured.", 503, "not_configured")
    return Upstream(base_url=settings.REALTIME_BASE_URL.rstrip("/"), api_key=api_key)


_STANDINS_SERVED: set[str] = set()


def upstreams_watchable_here() -> frozenset[str] | None:
    """The upstreams whose calls this web process may hold the sideband of; None for all.

    With a configured Realtime API, every process can join every call. The embedded stand-in's
    calls live in the process that answered them, so a web process holds only the calls of the
    stand-ins it minted at (its own listening addresses): a process set up differently (another
    policy, another deployment on the same database) never watches them. A dedicated
    ``run_sideband`` worker watches all."""
    if settings.REALTIME_BASE_URL:
        return None
    return frozenset(_STANDINS_SERVED)


def upstream_stored(base_url: str) -> Upstream:
    """The upstream a session's key was minted at (``TutorSession.upstream_base_url``), with
    the server key for it: for work done without a request, such as hanging up a call.

    The key only ever goes to the configured Realtime API or to the stand-in's own path.
    """
    base_url = (base_url or "").rstrip("/")
    configured = settings.REALTIME_BASE_URL.rstrip("/")
    if configured and base_url in ("", configured):
        api_key = settings.OPENAI_API_KEY or settings.STANDIN_API_KEY
        if not api_key:
            raise RealtimeError("The tutor is not configured.", 503, "not_configured")
        return Upstream(base_url=configured, api_key=api_key)
    if settings.REALTIME_STANDIN and base_url.endswith(STANDIN_PATH) and settings.STANDIN_API_KEY:
        return Upstream(base_url=base_url, api_key=settings.STANDIN_API_KEY)
    raise RealtimeError("The session's Realtime API is not known here.", 503, "unknown_upstream")


# One pooled client per event loop (daphne runs one per process), so a mint reuses the
# upstream connection instead of paying for a new TCP and TLS handshake every time.
_SHARED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = (
    weakref.WeakKeyDictionary()
)


def _shared_client() -> httpx.AsyncClient:
    loop = asyncio.get_running_loop()
    client = _SHARED.get(loop)
    if client is None or client.is_closed:
        client = _SHARED[loop] = httpx.AsyncClient(follow_redirects=False)
    return client


@contextlib.asynccontextmanager
async def _client(transport: httpx.AsyncBaseTransport | None) -> AsyncIterator[httpx.AsyncClient]:
    """The loop's shared client; a client of its own when a test passes a ``transport``."""
    if transport is None:
        yield _shared_client()
        return
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
        yield client


def _upstream_error_fields(response: httpx.Response) -> str:
    """The error's type and code when they are plain identifiers; never its message."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return "no JSON error"
    if not isinstance(error, dict):
        return "no JSON error"
    parts = [
        f"{name}={value}"
        for name in ("type", "code")
        if isinstance(value := error.get(name), str) and SAFE_CODE.match(value)
    ]
    return " ".join(parts) or "no error code"


def _raise_for_status(response: httpx.Response, *, action: str) -> None:
    status = response.status_code
    if 200 <= status < 300:
        return
    logger.warning(
        "Realtime %s failed: HTTP %s (%s, request id %s)",
        action,
        status,
        _upstream_error_fields(response),
        response.headers.get("x-request-id", "-")[:80],
    )
    if status in (401, 403):
        raise RealtimeError(
            "The tutor service refused our credentials. Please tell your teacher.",
            502,
            "upstream_auth",
        )
    if status == 429:
        raise RealtimeError(
            "The tutor is busy right now. Please try again in a minute.",
            429,
            "upstream_rate_limited",
        )
    if status >= 500:
        raise RealtimeError(
            "The tutor service is unavailable right now. Please try again soon.",
            503,
            "upstream_unavailable",
        )
    raise RealtimeError(
        "The tutor service rejected the request.", 502, "upstream_rejected"
    )


async def _post(
    *,
    url: str,
    api_key: str,
    action: str,
    json: Any,
    transport: httpx.AsyncBaseTransport | None,
    files: list[tuple[str, tuple[None, bytes, str]]] | None = None,
    accept: str = "application/json",
) -> httpx.Response:
    try:
        async with _client(transport) as client:
            response = await client.post(
                url,
                json=json,
                files=files,
                headers={"Authorization": f"Bearer {api_key}", "Accept": accept},
                timeout=httpx.Timeout(settings.REALTIME_HTTP_TIMEOUT_SECONDS),
            )
    except httpx.TimeoutException:
        logger.warning("Realtime %s timed out after %ss", action, settings.REALTIME_HTTP_TIMEOUT_SECONDS)
        raise RealtimeError(
            "The tutor service took too long to answer. Please try again.", 503, "upstream_timeout"
        ) from None
    except httpx.HTTPError as error:
        logger.warning("Realtime %s failed: %s", action, type(error).__name__)
        raise RealtimeError(
            "The tutor service cannot be reached right now. Please try again soon.",
            503,
            "upstream_unreachable",
        ) from None
    _raise_for_status(response, action=action)
    return response


def _malformed(detail: str, *, what: str = "client secret") -> RealtimeError:
    logger.warning("Realtime %s response is malformed: %s", what, detail)
    return RealtimeError(
        "The tutor service sent an unexpected answer. Please try again.", 502, "upstream_malformed"
    )


def _client_secret_parse(response: httpx.Response) -> ClientSecret:
    try:
        body = response.json()
    except ValueError:
        raise _malformed("not JSON") from None
    if not isinstance(body, dict):
        raise _malformed("not a JSON object")
    value, expires_at = body.get("value"), body.get("expires_at")
    if not isinstance(value, str) or not value.startswith("ek_") or len(value) > 4096:
        raise _malformed("no ek_ value")
    if isinstance(expires_at, bool) or not isinstance(expires_at, int) or expires_at <= 0:
        raise _malformed("no expires_at")
    return ClientSecret(value=value, expires_at=expires_at)


async def client_secret_create(
    *,
    session_config: dict[str, Any],
    base_url: str,
    api_key: str,
    ttl_seconds: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ClientSecret:
    """Mint a short-lived ``ek_`` key for the browser with ``session_config``."""
    response = await _post(
        url=f"{base_url.rstrip('/')}/realtime/client_secrets",
        api_key=api_key,
        action="client secret",
        json={
            "expires_after": {"anchor": "created_at", "seconds": ttl_seconds},
            "session": session_config,
        },
        transport=transport,
    )
    return _client_secret_parse(response)


@dataclass(frozen=True)
class CreatedCall:
    call_id: str
    answer_sdp: str = field(repr=False)


MAX_ANSWER_CHARS = 64_000


def _created_call_parse(response: httpx.Response) -> CreatedCall:
    """The call id from the ``Location`` header (``/v1/realtime/calls/rtc_…``) and the answer."""
    location = response.headers.get("location", "")
    call_id = location.rstrip("/").rsplit("/", 1)[-1]
    if response.status_code != 201 or not CALL_ID.match(call_id):
        raise _malformed("no call id in Location", what="call")
    answer = response.text
    if not answer.lstrip().startswith("v=0") or len(answer) > MAX_ANSWER_CHARS or "\x00" in answer:
        raise _malformed("no SDP answer", what="call")
    return CreatedCall(call_id=call_id, answer_sdp=answer)


async def calls_create(
    *,
    sdp: str,
    session_config: dict[str, Any],
    base_url: str,
    api_key: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> CreatedCall:
    """Create a WebRTC call with the server key (the API's unified interface): a multipart form
    with the page's ``sdp`` offer and the ``session`` config as JSON, as the official SDK sends
    it. The call id comes from the answer's ``Location`` header, not from the page."""
    response = await _post(
        url=f"{base_url.rstrip('/')}/realtime/calls",
        api_key=api_key,
        action="call",
        json=None,
        files=[
            ("sdp", (None, sdp.encode("utf-8"), "application/sdp")),
            ("session", (None, json_module.dumps(session_config).encode("utf-8"), "application/json")),
        ],
        accept="application/sdp",
        transport=transport,
    )
    return _created_call_parse(response)


async def calls_hangup(
    *,
    call_id: str,
    base_url: str,
    api_key: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """End a WebRTC call from the server side."""
    if not isinstance(call_id, str) or not CALL_ID.match(call_id):
        raise RealtimeError("That call cannot be ended.", 400, "bad_call_id")
    await _post(
        url=f"{base_url.rstrip('/')}/realtime/calls/{call_id}/hangup",
        api_key=api_key,
        action="hangup",
        json=None,
        transport=transport,
    )


async def moderation_check(
    *, text: str, base_url: str, api_key: str, transport: httpx.AsyncBaseTransport | None = None
) -> list[str]:
    """OpenAI's moderation endpoint: the flagged categories of ``text`` (empty when clean)."""
    response = await _post(
        url=f"{base_url.rstrip('/')}/moderations",
        api_key=api_key,
        action="moderation",
        json={"model": "omni-moderation-latest", "input": text[:20_000]},
        transport=transport,
    )
    try:
        result = response.json()["results"][0]
        flagged, categories = bool(result["flagged"]), result.get("categories") or {}
    except (ValueError, KeyError, IndexError, TypeError):
        raise _malformed("moderation answer without results") from None
    if not flagged:
        return []
    return sorted(name for name, hit in categories.items() if hit) or ["flagged"]

"""The WebSocket surface, ``GET /standin/v1/realtime`` (like ``wss://api.openai.com/v1/realtime``).

- ``?call_id=rtc_…`` with the server key: a **sideband** on a live WebRTC call (``webrtc.CALLS``).
  It gets ``session.created`` (the session as it is now), then every server event of the call,
  the same as the call's ``oai-events`` data channel and in the same order; its client events are
  handled as if they came over the data channel. Any number may attach; when the call ends they
  close (1000).
- ``?model=…`` with the server key, or an ``ek_`` key (any ``model``): a **whole session** over
  the socket. ``input_audio_buffer.append`` feeds the VAD and transcription; the tutor's audio
  comes back as ``response.output_audio.delta``.

The key is the ``Authorization: Bearer`` header or, as browsers send it, the subprotocols
``realtime`` + ``openai-insecure-api-key.<key>`` (``realtime`` is then the accepted subprotocol).

Refusals are answered the way the API was observed to: the handshake is accepted, an ``error``
event follows and the socket closes — 3000 with ``invalid_api_key``; 4004 with
``call_id_not_found`` for an unknown call (OpenAI answers that one with an HTTP 404 on the
upgrade, which daphne cannot send: it refuses an upgrade only with 403); 4000 with
``missing_required_parameter`` or ``invalid_value`` for a bad ``model``. Bad frames get an
``error`` event and the socket stays open.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any
from urllib.parse import parse_qs

from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from standin import auth, config
from standin.call import Call
from standin.webrtc import CALLS, RealtimeCall

logger = logging.getLogger(__name__)

PATH = "/standin/v1/realtime"
SUBPROTOCOL = "realtime"
# A server may close only with 1000 or 3000-4999 (RFC 6455 §7.4.2; autobahn, under daphne, enforces it).
CLOSE_UNAUTHORIZED = 3000  # IANA "Unauthorized": what OpenAI closes a bad key's socket with
CLOSE_NOT_FOUND = 4004  # no such call
CLOSE_BAD_REQUEST = 4000  # a missing or unknown model


def _error_event(message: str, *, code: str, param: str | None = None) -> dict[str, Any]:
    return {
        "type": "error",
        "event_id": config.new_id("event"),
        "error": {"type": "invalid_request_error", "code": code, "message": message, "param": param, "event_id": None},
    }


class RealtimeSocket(AsyncWebsocketConsumer):
    """One ``/v1/realtime`` socket: a sideband on a call, or a session of its own."""

    async def connect(self) -> None:
        self._outbox: asyncio.Queue[str | tuple[int, str]] = asyncio.Queue()
        self._closing = False
        self.rtc: RealtimeCall | None = None
        self.call: Call | None = None
        offered = self.scope.get("subprotocols") or []
        await self.accept(SUBPROTOCOL if SUBPROTOCOL in offered else None)
        self._writer = asyncio.ensure_future(self._write())
        query = parse_qs(self.scope.get("query_string", b"").decode("latin1"))
        key = auth.socket_key(self.scope)
        call_id = query.get("call_id", [None])[0]
        if call_id is not None:
            await self._join(call_id, key)
        else:
            await self._open(query.get("model", [None])[0], key)

    # --- the two kinds ------------------------------------------------------------------------

    async def _join(self, call_id: str, key: str | None) -> None:
        if not auth.is_server_key(key):
            if await auth.minted_session(key) is None:
                self._refuse(auth.unauthorized_message(key), code="invalid_api_key", close=CLOSE_UNAUTHORIZED)
                return
            # A live ek_ key does not open a sideband: OpenAI answers such a join with
            # call_id_not_found (reported since 2026-09); the server key is the one to use.
        rtc = CALLS.get(call_id) if auth.is_server_key(key) else None
        if rtc is None:
            self._refuse(
                "No session found for the provided call_id", code="call_id_not_found", param="call_id", close=CLOSE_NOT_FOUND
            )
            return
        self.rtc = rtc
        rtc.attach(self)

    async def _open(self, model: str | None, key: str | None) -> None:
        session = await auth.session_for(key)
        if session is None:
            self._refuse(auth.unauthorized_message(key), code="invalid_api_key", close=CLOSE_UNAUTHORIZED)
            return
        if auth.is_server_key(key):
            if not model:
                self._refuse("Missing required parameter: 'model'.", code="missing_required_parameter", param="model")
                return
            try:
                session = config.session_create({"type": "realtime", "model": model}, defaults=auth.defaults())
            except config.InvalidRequest as problem:
                self._refuse(problem.message, code=problem.code or "invalid_value", param="model")
                return
        self.call = Call(
            call_id=config.new_id("sess"),
            session=session,
            send=self._send_event,
            transport="websocket",
            transcript_after_reply=settings.STANDIN_TRANSCRIPT_AFTER_REPLY,
        )
        self.call.start()

    # --- sending: one queue, so events leave in the order the call made them ------------------

    def deliver(self, text: str) -> None:
        if not self._closing:
            self._outbox.put_nowait(text)

    def call_ended(self, code: int) -> None:
        if not self._closing:
            self._closing = True
            self._outbox.put_nowait((code, "call ended"))

    def _send_event(self, event: dict[str, Any]) -> None:
        self.deliver(json.dumps(event, ensure_ascii=False))

    def _refuse(self, message: str, *, code: str, param: str | None = None, close: int = CLOSE_BAD_REQUEST) -> None:
        self.deliver(json.dumps(_error_event(message, code=code, param=param)))
        self._closing = True
        self._outbox.put_nowait((close, f"invalid_request_error.{code}"))

    async def _write(self) -> None:
        try:
            while True:
                item = await self._outbox.get()
                if isinstance(item, tuple):
                    code, reason = item
                    await self.close(code=code, reason=reason)
                    return
                await self.send(text_data=item)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("the stand-in socket could not send")
            await self.close(code=1000)

    # --- receiving ----------------------------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self._closing:
            return
        message = text_data if text_data is not None else bytes_data
        if self.rtc is not None:
            self.rtc.submit(message)
        elif self.call is not None:
            await self.call.receive(message)

    async def disconnect(self, code: int) -> None:
        self._closing = True
        if getattr(self, "rtc", None) is not None:
            self.rtc.detach(self)
        if getattr(self, "call", None) is not None:
            await self.call.close()
        writer = getattr(self, "_writer", None)
        if writer is not None:
            writer.cancel()


def standin_websockets(fallback):
    """An ASGI app that serves the stand-in's socket and hands every other WebSocket to ``fallback``.

    The stand-in is an API for clients that send no Origin and no cookie, so it sits outside the
    app's origin validator and session auth; everything else goes through them as before.
    """
    consumer = RealtimeSocket.as_asgi()

    async def application(scope, receive, send):
        if scope["type"] == "websocket" and scope["path"].rstrip("/") == PATH:
            return await consumer(scope, receive, send)
        return await fallback(scope, receive, send)

    return application

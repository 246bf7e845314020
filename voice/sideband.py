"""The server's own view of each live call: the Realtime API's sideband connection.

The page opens the call over WebRTC and reports its id; the server then joins the same call
over WebSocket with the server key (``AsyncOpenAI(...).realtime.connect(call_id=...)``, the
official SDK's client) and receives every event of it. What matters is recorded from what
the server saw there, not from what the page says:

- function calls run here (``voice.tools.runner``, once per call id across processes) and
  their output goes back to the model from here, with ``response.create``;
- usage comes from each ``response.done``; speaking time from ``input_audio_buffer.speech_*``;
- each completed item is saved as verified (the page's copy of it changes nothing);
- the tutor's streaming transcript is checked by the output guardrail: a trip cancels the
  reply (``response.cancel`` + ``output_audio_buffer.clear``) and flags the item;
- the call's end is seen at once: its lease ends, and nobody joins it again.

A call id the sideband cannot join is a false report (``sessions.session_call_refused``).
Which process holds a call's sideband is decided by lease rows (``voice.leases``): every
process that runs ``sideband_loop`` claims, renews and takes over calls.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from common import clock
from tutor.clarity import logprobs_clean
from tutor.models import ConversationItem, ToolCall, TutorSession
from voice import guardrail, leases, realtime
from voice.items import conversation_item_save
from voice.sessions import (
    session_call_refused,
    session_sideband_joined,
    session_speech_add,
    session_usage_add,
)
from voice.tools.runner import tool_call_run
from voice.usage import usage_normalize

logger = logging.getLogger(__name__)

HOLDER = f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
CALL_ENDED = "call_ended"
Send = Callable[[dict[str, Any]], Awaitable[None]]


# --- Reading items ------------------------------------------------------------------------


def _text(item: dict[str, Any]) -> str:
    """What an item says: its transcript or text, a function call's name and arguments."""
    if item.get("type") == "function_call":
        return f"{item.get('name', '')}({item.get('arguments', '')})"
    if item.get("type") == "function_call_output":
        return str(item.get("output", ""))
    parts = item.get("content") or []
    return " ".join(
        str(part.get("transcript") or part.get("text") or "")
        for part in parts
        if isinstance(part, dict) and (part.get("transcript") or part.get("text"))
    ).strip()


def _role_kind(item: dict[str, Any]) -> tuple[str, str] | None:
    kind = item.get("type")
    if kind == "message" and item.get("role") in ("user", "assistant"):
        return item["role"], ConversationItem.Kind.MESSAGE
    if kind == "function_call":
        return "assistant", ConversationItem.Kind.FUNCTION_CALL
    if kind == "function_call_output":
        return "tool", ConversationItem.Kind.FUNCTION_CALL_OUTPUT
    return None


# --- One call -----------------------------------------------------------------------------


class CallWatcher:
    """The server's handling of one call's events; ``send`` sends a client event on the call."""

    def __init__(self, *, session: TutorSession, call_id: str, send: Send) -> None:
        self.session = session
        self.call_id = call_id
        self.send = send
        self.speech_started: dict[str, int] = {}
        self.transcripts: dict[str, str] = {}
        self.stopped: set[str] = set()
        self.event_number = 0

    def _event_id(self) -> str:
        self.event_number += 1
        return f"srv_{self.event_number}"

    async def handle(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        handler = HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is not None:
            await handler(self, event)

    async def item_done(self, event: dict[str, Any]) -> None:
        item = event.get("item")
        if not isinstance(item, dict) or not isinstance(item.get("id"), str):
            return
        role_kind = _role_kind(item)
        if role_kind is None:
            return
        await database_sync_to_async(_save_seen)(
            session=self.session, item_id=item["id"], role=role_kind[0], kind=role_kind[1],
            text=_text(item), item_type=item.get("type"),
        )
        if item.get("type") == "function_call" and item.get("status", "completed") == "completed":
            await self.function_call(item)

    async def catch_up(self) -> None:
        """Ask the call for the items the page saved that this sideband has not seen: those
        from before it joined (a holder that died, or the moments before the first join).
        Each comes back as ``conversation.item.retrieved`` and is handled like a completed item,
        so a function call made while nobody held the call still runs, once; an id the call
        does not know (a forged one) gets an ``error`` and changes nothing."""
        for item_id in await database_sync_to_async(_unseen_item_ids)(self.session.pk):
            await self.send({"type": "conversation.item.retrieve", "event_id": self._event_id(), "item_id": item_id})

    async def transcript_done(self, event: dict[str, Any]) -> None:
        """The learner's transcript, which may come after the item and after the reply."""
        item_id, transcript = event.get("item_id"), event.get("transcript")
        if isinstance(item_id, str) and isinstance(transcript, str):
            await database_sync_to_async(_save_seen)(
                session=self.session, item_id=item_id, role="user",
                kind=ConversationItem.Kind.MESSAGE, text=transcript,
                logprobs=logprobs_clean(event.get("logprobs")),
            )

    async def function_call(self, item: dict[str, Any]) -> None:
        call_id = str(item.get("call_id") or "")[:128]
        if not call_id:
            return
        answered = await ToolCall.objects.filter(session=self.session, call_id=call_id).aexists()
        output = await database_sync_to_async(tool_call_run)(
            learner=self.session.learner,
            name=item.get("name"),
            arguments_json=item.get("arguments"),
            session=self.session,
            call_id=call_id,
        )
        if answered:
            return  # this call was answered before (by a holder that died): answer once
        model_output, handoff = _split_handoff(output)
        if handoff is not None:
            await self.send({"type": "session.update", "event_id": self._event_id(), "session": handoff})
        await self.send(
            {
                "type": "conversation.item.create",
                "event_id": self._event_id(),
                "item": {"type": "function_call_output", "call_id": call_id, "output": model_output},
            }
        )
        await self.send({"type": "response.create", "event_id": self._event_id()})

    async def response_done(self, event: dict[str, Any]) -> None:
        response = event.get("response")
        if not isinstance(response, dict) or not isinstance(response.get("id"), str):
            return
        try:
            usage = usage_normalize(response.get("usage") or {})
        except ValueError:
            logger.warning("The Realtime API sent malformed usage for session %s", self.session.pk)
            return
        await database_sync_to_async(session_usage_add)(
            session=self.session, response_id=response["id"][:128], usage=usage
        )

    async def speech_started(self, event: dict[str, Any]) -> None:
        item_id, start = event.get("item_id"), event.get("audio_start_ms")
        if isinstance(item_id, str) and isinstance(start, int):
            self.speech_started[item_id] = start

    async def speech_stopped(self, event: dict[str, Any]) -> None:
        item_id, end = event.get("item_id"), event.get("audio_end_ms")
        start = self.speech_started.pop(item_id, None) if isinstance(item_id, str) else None
        if start is not None and isinstance(end, int) and end > start:
            await database_sync_to_async(session_speech_add)(
                session_id=self.session.pk, seconds=(end - start) / 1000
            )

    async def transcript_delta(self, event: dict[str, Any]) -> None:
        item_id, delta = event.get("item_id"), event.get("delta")
        if not isinstance(item_id, str) or not isinstance(delta, str) or item_id in self.stopped:
            return
        text = self.transcripts.get(item_id, "") + delta
        self.transcripts[item_id] = text[-20_000:]
        verdict = guardrail.terms_check(text)
        if verdict.tripped:
            await self.guardrail_trip(item_id, verdict.reason)

    async def transcript_final(self, event: dict[str, Any]) -> None:
        """The whole reply: the full policy (moderation too, when it is on)."""
        item_id, transcript = event.get("item_id"), event.get("transcript")
        if not isinstance(item_id, str) or not isinstance(transcript, str) or item_id in self.stopped:
            return
        self.transcripts.pop(item_id, None)
        verdict = await guardrail.output_check(transcript)
        if verdict.tripped:
            await self.guardrail_trip(item_id, verdict.reason, text=transcript)

    async def guardrail_trip(self, item_id: str, reason: str, *, text: str | None = None) -> None:
        self.stopped.add(item_id)
        await self.send({"type": "response.cancel", "event_id": self._event_id()})
        await self.send({"type": "output_audio_buffer.clear", "event_id": self._event_id()})
        await database_sync_to_async(_flag)(
            session=self.session, item_id=item_id, reason=reason,
            text=text if text is not None else self.transcripts.get(item_id, ""),
        )
        logger.info("Guardrail stopped a reply in session %s (sideband)", self.session.pk)


def _save_seen(
    *, session: TutorSession, item_id: str, role: str, kind: str, text: str, item_type: str = "message",
    logprobs: list | None = None,
) -> None:
    """Save an item as the server saw it on the call: verified, keeping the page's order. Its
    raw data is the server's own (a page's copy saved earlier is replaced), with the learner's
    transcript logprobs when the call sent them (``tutor.clarity``)."""
    raw = {"type": item_type, "source": "sideband", **({"logprobs": logprobs} if logprobs else {})}
    conversation_item_save(
        session=session, item_id=item_id[:128], role=role, kind=kind, text=text[:20_000],
        raw=raw, order=None, verified=True,
    )


CATCH_UP_LIMIT = 100


def _unseen_item_ids(session_id: int) -> list[str]:
    """The newest items the page saved for the session that no sideband saw, oldest first."""
    ids = ConversationItem.objects.filter(session_id=session_id, verified=False).order_by("-pk")
    return list(reversed(ids.values_list("item_id", flat=True)[:CATCH_UP_LIMIT]))


def _flag(*, session: TutorSession, item_id: str, reason: str, text: str) -> None:
    _save_seen(
        session=session, item_id=item_id, role="assistant", kind=ConversationItem.Kind.MESSAGE, text=text
    )
    guardrail.item_flag(session=session, item_id=item_id[:128], reason=reason)


def _split_handoff(output: str) -> tuple[str, dict | None]:
    """A tool output for the model, and the persona handoff (a ``session.update``'s session)
    it carries, if any: the model gets ``handoff_to`` instead of the handoff."""
    try:
        parsed = json.loads(output)
    except ValueError:
        return output, None
    handoff = parsed.get("handoff") if isinstance(parsed, dict) else None
    if not isinstance(handoff, dict) or not isinstance(handoff.get("session"), dict):
        return output, None
    rest = {key: value for key, value in parsed.items() if key != "handoff"}
    return json.dumps({**rest, "handoff_to": handoff.get("persona")}), handoff["session"]


HANDLERS: dict[str, Callable[[CallWatcher, dict[str, Any]], Awaitable[None]]] = {
    "conversation.item.done": CallWatcher.item_done,
    "conversation.item.retrieved": CallWatcher.item_done,
    "conversation.item.input_audio_transcription.completed": CallWatcher.transcript_done,
    "response.done": CallWatcher.response_done,
    "input_audio_buffer.speech_started": CallWatcher.speech_started,
    "input_audio_buffer.speech_stopped": CallWatcher.speech_stopped,
    "response.output_audio_transcript.delta": CallWatcher.transcript_delta,
    "response.output_text.delta": CallWatcher.transcript_delta,
    "response.output_audio_transcript.done": CallWatcher.transcript_final,
    "response.output_text.done": CallWatcher.transcript_final,
}


# --- Joining a call -----------------------------------------------------------------------


class JoinRefused(Exception):
    """The Realtime API would not let the server join the call: it is not a call it knows."""


def _client(upstream: realtime.Upstream):
    from openai import AsyncOpenAI

    websocket_base = upstream.base_url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    return AsyncOpenAI(
        api_key=upstream.api_key, base_url=upstream.base_url, websocket_base_url=websocket_base,
        max_retries=0,
    )


async def _events(connection) -> Any:
    """Raw events as dicts (unknown event types are kept, not parsed away)."""
    from websockets.exceptions import ConnectionClosed

    while True:
        try:
            raw = await connection.recv_bytes()
        except ConnectionClosed:
            return
        try:
            event = json.loads(raw)
        except ValueError:
            continue
        if isinstance(event, dict):
            yield event


async def call_watch(
    *, session_id: int, call_id: str, connect=None, on_join: Callable[[], Awaitable[None]] | None = None
) -> str:
    """Join ``call_id`` and handle its events until it ends; how it ended (``CALL_ENDED``,
    or ``"refused"`` for a call the sideband could not join)."""
    session = await TutorSession.objects.select_related("learner").aget(pk=session_id)
    if connect is None:
        upstream = realtime.upstream_stored(session.upstream_base_url)

        def connect():
            return _client(upstream).realtime.connect(call_id=call_id)

    try:
        manager = connect()
        connection = await manager.__aenter__()
    except Exception as error:  # the SDK raises the websockets handshake errors as they are
        reason = f"the sideband could not join the call ({type(error).__name__})"
        logger.warning("Session %s reported call %s: %s", session_id, call_id, reason)
        await database_sync_to_async(session_call_refused)(
            session_id=session_id, call_id=call_id, reason=reason
        )
        return "refused"
    from websockets.exceptions import ConnectionClosed

    watcher = CallWatcher(session=session, call_id=call_id, send=connection.send)
    joined = False
    try:
        async for event in _events(connection):
            if event.get("type") == "error" and _is_join_error(event):
                await database_sync_to_async(session_call_refused)(
                    session_id=session_id, call_id=call_id,
                    reason=f"the sideband could not join the call ({_error_code(event)})",
                )
                return "refused"
            try:
                if not joined and event.get("type") == "session.created":
                    # The call took us: from here on this sideband sees its events.
                    joined = True
                    await database_sync_to_async(session_sideband_joined)(session_id=session_id, now=clock.now())
                    logger.info("Joined the call of session %s over the sideband", session_id)
                    if on_join is not None:
                        await on_join()
                    await watcher.catch_up()
                else:
                    await watcher.handle(event)
            except ConnectionClosed:
                break  # the call closed while we answered it; what it sent before is read above
            except Exception:
                logger.exception("The sideband of session %s failed on %s", session_id, event.get("type"))
    finally:
        try:
            await manager.__aexit__(None, None, None)
        except Exception:  # already closed by the other end
            pass
    # The call is over. Its session is not ended here: a page whose connection dropped resumes
    # the same session with a new call, and the session's own end or hang-up time closes it.
    return CALL_ENDED


def _error_code(event: dict) -> str:
    error = event.get("error") if isinstance(event.get("error"), dict) else {}
    return str(error.get("code") or error.get("type") or "error")[:64]


def _is_join_error(event: dict) -> bool:
    return _error_code(event) in {"call_id_not_found", "call_not_found", "invalid_call_id"}


# --- The loop every sideband process runs ---------------------------------------------------

_WATCHERS: dict[int, asyncio.Task] = {}  # lease id -> the task watching its call
_LOOP: asyncio.Task | None = None
_WAKE: asyncio.Event | None = None


async def _watch_lease(claim: leases.Claim, holder: str) -> None:
    async def joined() -> None:
        await database_sync_to_async(leases.lease_joined)(lease_id=claim.lease_id, holder=holder, now=clock.now())

    try:
        await call_watch(session_id=claim.session_id, call_id=claim.call_id, on_join=joined)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("Watching the call of session %s failed", claim.session_id)
    finally:
        await database_sync_to_async(leases.lease_end)(lease_id=claim.lease_id, now=clock.now())


async def sideband_tick(*, holder: str = HOLDER, every_upstream: bool = False) -> None:
    """One round: renew what this process holds, drop what it lost, claim what is free (on
    the upstreams this process may watch, or on all with ``every_upstream``)."""
    held = list(_WATCHERS)
    still = await database_sync_to_async(leases.leases_renew)(holder=holder, lease_ids=held, now=clock.now())
    for lease_id in held:
        task = _WATCHERS[lease_id]
        if lease_id not in still or task.done():
            if not task.done():
                task.cancel()  # another process holds it now
            _WATCHERS.pop(lease_id, None)
    upstreams = None if every_upstream else realtime.upstreams_watchable_here()
    claimed = await database_sync_to_async(leases.leases_claim)(holder=holder, now=clock.now(), upstreams=upstreams)
    for claim in claimed:
        if claim.lease_id not in _WATCHERS:
            logger.info("Holding the sideband of session %s", claim.session_id)
            _WATCHERS[claim.lease_id] = asyncio.get_running_loop().create_task(_watch_lease(claim, holder))


async def sideband_loop(*, holder: str = HOLDER, every_upstream: bool = False) -> None:
    """Claim, renew and take over calls for as long as the process runs."""
    global _WAKE
    _WAKE = asyncio.Event()
    interval = settings.SIDEBAND_CLAIM_SECONDS
    while True:
        try:
            await sideband_tick(holder=holder, every_upstream=every_upstream)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("The sideband loop failed; trying again")
        try:
            await asyncio.wait_for(_WAKE.wait(), timeout=interval)
        except asyncio.TimeoutError:
            pass
        _WAKE.clear()


def sideband_wake() -> None:
    """A call was just reported: claim it now rather than at the next round."""
    if _WAKE is not None:
        _WAKE.set()


def sideband_loop_start() -> asyncio.Task | None:
    """Start this process's loop on the running event loop, once; None when it is off."""
    global _LOOP
    if not (settings.REALTIME_SIDEBAND and settings.SIDEBAND_IN_PROCESS):
        return None
    if _LOOP is None or _LOOP.done():
        _LOOP = asyncio.get_running_loop().create_task(sideband_loop())
    return _LOOP


def watchers() -> dict[int, asyncio.Task]:
    return dict(_WATCHERS)

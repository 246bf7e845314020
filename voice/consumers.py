"""The conversation socket: the page saves items, reports its call, relays tool calls, ends.

Thin on purpose: each message is parsed by ``voice.protocol.message_parse`` and
handed to one service; the reply goes back on the same socket. A bad frame gets an
``error`` reply and the socket stays open.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from channels.db import aclose_old_connections, database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tutor.models import TutorSession
from voice import calls, guardrail, hangups
from voice.items import (
    ItemRefused,
    SessionEnded,
    conversation_item_save,
    connection_released,
    conversation_item_save_batched,
    db_retrying,
)
from voice.metering import CLOSED_STATUSES
from voice.protocol import (
    ACK,
    CLOSE_NOT_FOUND,
    CLOSE_TRY_AGAIN_LATER,
    CLOSE_UNAUTHENTICATED,
    GUARDRAIL,
    MAX_MESSAGE_BYTES,
    MOVED,
    MOVED_MESSAGE,
    TIME_UP,
    TOOL_RESULT,
    USAGE_ACK,
    CallMessage,
    CheckMessage,
    EndMessage,
    ItemMessage,
    MessageInvalid,
    ToolMessage,
    UsageMessage,
    error_reply,
    invalid_reply,
    message_parse,
)
from voice.sessions import (
    CallTaken,
    SessionClosed,
    UsageRefused,
    session_usage_add,
    tutor_session_get,
)
from voice.tools.runner import tool_call_run
from voice.tools.schemas import SIDEBAND_ONLY_TOOLS

logger = logging.getLogger(__name__)

# What the Redis channel layer raises when Redis is down; the page retries later.
CHANNEL_LAYER_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionRefusedError)


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


# NaN and Infinity are not JSON, and PostgreSQL would refuse to store them. One decoder for
# every frame: json.loads with parse_constant builds a new one each call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


class ConversationConsumer(AsyncJsonWebsocketConsumer):
    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        except CHANNEL_LAYER_DOWN as error:
            # One line, not a traceback per socket: the process keeps serving pages.
            logger.error("Conversation socket closed: the channel layer is unavailable (%s)", type(error).__name__)
            await send({"type": "websocket.close", "code": CLOSE_TRY_AGAIN_LATER})

    async def connect(self) -> None:
        # A refusal accepts first and then closes with its code: a socket closed during the
        # handshake reaches the browser as 1006, and the page could not tell it is final.
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        session_id = self.scope["url_route"]["kwargs"]["session_id"]
        self.learner = user
        self.session = await database_sync_to_async(tutor_session_get)(
            learner=user, session_id=session_id
        )
        if self.session is None:
            # Someone else's session looks exactly like a missing one.
            await self._refuse(CLOSE_NOT_FOUND)
            return
        # The server's hang-up reaches the page through this group, from any process.
        self.group = hangups.session_group(self.session.pk)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def _refuse(self, code: int) -> None:
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def dispatch(self, message: dict) -> None:
        # Channels closes the old database connections of the one thread-sensitive thread
        # before every handler: a trip to that thread, which every socket of the process
        # shares, for every frame. A frame here closes them after it is handled instead, and
        # only if it may have used one there (receive_json): an item's save runs on a worker
        # thread that closes its own. Everything else (connect, disconnect, the channel
        # layer's events) goes through Channels as it is.
        if message["type"] == "websocket.receive":
            await self.websocket_receive(message)
        else:
            await super().dispatch(message)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs) -> None:
        if text_data is None:
            await self._error("binary", "Send JSON text frames, not binary ones.")
            return
        if len(text_data) > MAX_MESSAGE_BYTES or len(
            text_data.encode("utf-8", "surrogatepass")
        ) > MAX_MESSAGE_BYTES:
            await self._error("too_large", f"A message may be at most {MAX_MESSAGE_BYTES} bytes.")
            return
        try:
            content = await self.decode_json(text_data)
        except (ValueError, RecursionError):
            await self._error("bad_json", "The message is not valid JSON.")
            return
        await self.receive_json(content, **kwargs)

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        return _DECODER.decode(text_data)

    async def receive_json(self, content: Any, **kwargs) -> None:
        try:
            message = message_parse(content)
        except MessageInvalid as problem:
            await self.send_json(invalid_reply(problem))
            return
        try:
            if self._needs_open_session(message) and not await self._session_open():
                await self._refuse_closed(message)
                return
            if isinstance(message, ItemMessage):
                await self._item_save(message)
            elif isinstance(message, CallMessage):
                await self._call_connect(message)
            elif isinstance(message, ToolMessage):
                await self._tool_run(message)
            elif isinstance(message, EndMessage):
                await self._session_end(message)
            elif isinstance(message, UsageMessage):
                await self._usage_add(message)
            elif isinstance(message, CheckMessage):
                await self._guardrail_check(message)
        except Exception:
            logger.exception("Conversation socket of session %s failed", self.session.pk)
            item_id = message.item_id if isinstance(message, ItemMessage) else None
            await self._error("server_error", "The server could not handle that; send it again later.", item_id=item_id)
        finally:
            if not isinstance(message, ItemMessage):  # the async ORM's connections (voice.calls)
                await aclose_old_connections()

    @staticmethod
    def _needs_open_session(message) -> bool:
        """Tools, usage and guardrail checks only count while the session is open. (Items too
        with the sideband on, but their save checks that itself: ``_item_save``.)"""
        return isinstance(message, (ToolMessage, UsageMessage, CheckMessage))

    async def _session_open(self) -> bool:
        """Whether the session is still open and its learner still active (read afresh: the
        session may have ended, or the learner been deactivated, in any process)."""
        # A read, so it rides out a database restart the way the saves do.
        return await database_sync_to_async(db_retrying(_session_is_open))(self.session.pk)

    async def _refuse_closed(self, message) -> None:
        if isinstance(message, ToolMessage):
            output = json.dumps({"error": "the session has ended"})
            await self.send_json({"type": TOOL_RESULT, "call_id": message.call_id, "output": output})
            return
        await self._error(
            "session_ended",
            "This session has ended; nothing more is saved on it.",
            item_id=getattr(message, "item_id", None) if isinstance(message, ItemMessage) else None,
            response_id=getattr(message, "response_id", None),
        )

    async def _item_save(self, message: ItemMessage) -> None:
        # Idempotent, so a save interrupted by a database restart is simply run again. Not
        # thread-sensitive: saves from many sockets run side by side, each on its own
        # connection; or, with group commit, the items that arrive together from any of this
        # process's sockets share one transaction. The ack is sent once it has committed.
        # With the sideband on, only while the session is open: the server saved what it saw
        # on the call itself, and what a page sends after the end is not evidence of anything
        # (without the sideband, a page's late items are the only copy of the transcript, so
        # they are still taken). The save reads that with the learner's row locked.
        if settings.TUTOR_ITEM_GROUP_COMMIT:
            save = conversation_item_save_batched
        else:
            save = database_sync_to_async(
                connection_released(db_retrying(conversation_item_save)), thread_sensitive=False
            )
        try:
            await save(
                session=self.session,
                item_id=message.item_id,
                role=message.role,
                kind=message.kind,
                text=message.text,
                raw=message.raw,
                order=message.order,
                open_only=settings.REALTIME_SIDEBAND,
            )
        except SessionEnded:
            await self._refuse_closed(message)
            return
        except ItemRefused as refused:
            # Final for this item: the page drops it from its outbox.
            await self._error(refused.code, refused.message, item_id=message.item_id)
            return
        ack = {"type": ACK, "item_id": message.item_id}
        if message.role == "assistant" and message.kind == "message":
            verdict = await guardrail.reply_check(message.text, learner_id=self.learner.pk)
            if verdict.tripped:
                await database_sync_to_async(guardrail.item_flag)(
                    session=self.session, item_id=message.item_id, reason=verdict.reason
                )
                ack.update(flagged=True, message=verdict.message)
        await self.send_json(ack)

    async def _guardrail_check(self, message: CheckMessage) -> None:
        """A streaming check: when it trips the page cancels the reply at once. Over the
        moderation limits it is answered ``rate_limited`` (no item id: the item stays queued)."""
        window = self.__dict__.setdefault("_check_window", guardrail.CheckWindow())
        verdict = await guardrail.output_check(message.text, learner_id=self.learner.pk, window=window)
        if verdict.tripped:
            await self.send_json(
                {"type": GUARDRAIL, "item_id": message.item_id, "tripped": True, "message": verdict.message}
            )
        elif verdict.limited:
            await self._error("rate_limited", "Too many checks: this one was not sent to moderation.")

    async def _call_connect(self, message: CallMessage) -> None:
        try:
            if settings.REALTIME_CALL_SETUP == "server":
                # The server created the call and recorded its id itself: the page's word is
                # only checked against it.
                reply = await calls.call_report_check(session=self.session, call_id=message.call_id)
            else:
                reply = await calls.call_report(
                    session=self.session, call_id=message.call_id, reporter=self.channel_name
                )
        except SessionClosed:
            await self._error("session_ended", "This session has ended; start a new one.")
            return
        except CallTaken:
            await self._error("call_taken", "That call belongs to another session.")
            return
        except calls.CallMismatch:
            await self._error("call_mismatch", "That is not the call the server set up for this session.")
            return
        await self.send_json(reply)

    async def _tool_run(self, message: ToolMessage) -> None:
        if settings.REALTIME_SIDEBAND and message.name in SIDEBAND_ONLY_TOOLS:
            # Grades and practice come from the calls the server saw on the sideband.
            output = json.dumps({"error": "the server records this itself"})
            await self.send_json({"type": TOOL_RESULT, "call_id": message.call_id, "output": output})
            return
        output = await database_sync_to_async(tool_call_run)(
            learner=self.learner,
            name=message.name,
            arguments_json=message.arguments,
            session=self.session,
            call_id=message.call_id,
        )
        await self.send_json({"type": TOOL_RESULT, "call_id": message.call_id, "output": output})

    async def _session_end(self, message: EndMessage) -> None:
        await calls.call_end(session=self.session, reason=message.reason, reply=self.send_json)

    async def _usage_add(self, message: UsageMessage) -> None:
        if settings.REALTIME_SIDEBAND:
            # The server counts usage from the response.done events it sees itself.
            await self.send_json({"type": USAGE_ACK, "response_id": message.response_id})
            return
        try:
            await database_sync_to_async(session_usage_add)(
                session=self.session, response_id=message.response_id, usage=message.usage
            )
        except UsageRefused:
            await self._error(
                "too_many", "This session takes no more usage records.", response_id=message.response_id
            )
            return
        await self.send_json({"type": USAGE_ACK, "response_id": message.response_id})

    async def session_moved(self, event: dict) -> None:
        """From the channel layer: another page of this session reported a new call."""
        if event.get("reporter") != self.channel_name:
            moved = {"type": MOVED, "message": MOVED_MESSAGE}
            if event.get("page"):
                # A call the server created: the page it went on in knows itself by this id.
                moved["page"] = event["page"]
            await self.send_json(moved)

    async def session_time_up(self, event: dict) -> None:
        """From the channel layer: the server ended this session at its time limit."""
        await self.send_json({"type": TIME_UP, "reason": "time_limit", "message": event["message"]})

    async def _error(
        self, code: str, message: str, *, item_id: str | None = None, response_id: str | None = None
    ) -> None:
        await self.send_json(error_reply(code, message, item_id=item_id, response_id=response_id))


def _session_is_open(session_id: int) -> bool:
    return (
        TutorSession.objects.filter(pk=session_id, learner__is_active=True)
        .exclude(status__in=CLOSED_STATUSES)
        .exists()
    )

"""The state of one Realtime call and its event protocol, without any WebRTC.

A ``Call`` takes client events (JSON text, from the ``oai-events`` data channel, a sideband or a
WebSocket session) with :meth:`Call.receive` and the learner's audio (16 kHz mono int16 PCM) with
:meth:`Call.feed_audio`, and sends server events (dicts) through its ``send`` callback. The
assistant's audio goes, piece by piece while the response is generated, to ``call.output``, a sink
that depends on the transport:

- ``"webrtc"``: an :class:`~standin.speech.AudioOutput` the WebRTC track reads in real time; it
  reports ``output_audio_buffer.started``/``.stopped``;
- ``"websocket"``: :class:`DeltaAudio`, which sends ``response.output_audio.delta`` events in the
  session's output format; this transport also takes ``input_audio_buffer.append``.

Event names and shapes are those of the GA Realtime API. Token counts in ``usage`` are estimates
(about four characters of text, or a tenth of a second of audio, per token).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import copy
import json
import logging
import math
from collections.abc import Awaitable, Callable
from typing import Any

from standin import config, speech
from standin.config import InvalidRequest
from standin.tutor_script import TutorScript, focus_words
from standin.vad import SAMPLE_RATE, EnergyVAD, SpeechStarted, SpeechStopped

logger = logging.getLogger(__name__)

MAX_EVENT_BYTES = 256 * 1024
MAX_SOCKET_EVENT_BYTES = 21 * 1024 * 1024  # input_audio_buffer.append: up to 15 MiB of audio, base64
MAX_BUFFER_MS = 60_000
MIN_COMMIT_MS = 100
RECOGNITION_WAIT_S = 5.0

CLIENT_EVENTS = (
    "session.update",
    "conversation.item.create",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "conversation.item.truncate",
    "response.create",
    "response.cancel",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "output_audio_buffer.clear",
)
SOCKET_EVENTS = (*CLIENT_EVENTS, "input_audio_buffer.append")
TRANSPORTS = ("webrtc", "websocket")

# A recogniser gives the text, or a ``transcribe.Recognition`` (the text and each word's log
# posterior). Plain text is taken as sure of every word.
Transcribe = Callable[[bytes, list[str]], Any]
Synthesize = Callable[..., Awaitable[bytes]]
LOGPROBS = "item.input_audio_transcription.logprobs"


def _default_transcribe(pcm: bytes, terms: list[str]) -> Any:
    from standin.transcribe import transcriber

    return transcriber().transcribe_scored(pcm, terms)


def _recognised(result: Any) -> tuple[str, list[tuple[str, float]]]:
    if isinstance(result, str):
        return result, [(word, 0.0) for word in result.split()]
    return result.text, list(result.word_logprobs)


def transcript_logprobs(word_logprobs: list[tuple[str, float]]) -> list[dict[str, Any]]:
    """The GA ``logprobs`` of a transcript: one token per word (after the first, with its
    leading space, so the tokens joined are the transcript), as ``{token, logprob, bytes}``."""
    tokens = []
    for index, (word, logprob) in enumerate(word_logprobs):
        token = word if index == 0 else f" {word}"
        tokens.append({"token": token, "logprob": logprob, "bytes": list(token.encode("utf-8"))})
    return tokens


def text_tokens(text: str) -> int:
    return math.ceil(len(text) / 4) if text else 0


def usage(*, input_text: int = 0, input_audio: int = 0, output_text: int = 0, output_audio: int = 0) -> dict:
    input_tokens = input_text + input_audio
    output_tokens = output_text + output_audio
    return {
        "total_tokens": input_tokens + output_tokens,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_token_details": {
            "text_tokens": input_text,
            "audio_tokens": input_audio,
            "image_tokens": 0,
            "cached_tokens": 0,
            "cached_tokens_details": {"text_tokens": 0, "audio_tokens": 0, "image_tokens": 0},
        },
        "output_token_details": {"text_tokens": output_text, "audio_tokens": output_audio},
    }


def _chunks(text: str, size: int) -> list[str]:
    """Pieces of about ``size`` characters, split after spaces so deltas look like a stream."""
    pieces: list[str] = []
    current = ""
    for word in text.split(" "):
        candidate = f"{current} {word}" if current else word
        if len(candidate) > size and current:
            pieces.append(current + " ")
            current = word
        else:
            current = candidate
    if current:
        pieces.append(current)
    return pieces or [""]


def _rate(audio_format: dict) -> int:
    return 8000 if audio_format.get("type") in ("audio/pcmu", "audio/pcma") else int(audio_format.get("rate", 24000))


def _split(pcm: bytes, count: int) -> list[bytes]:
    """``pcm`` in ``count`` consecutive pieces of about equal length, on sample boundaries."""
    samples = len(pcm) // 2
    bounds = [samples * index // count * 2 for index in range(count + 1)]
    return [pcm[bounds[index] : bounds[index + 1]] for index in range(count)]


class DeltaAudio:
    """The WebSocket transport's sink: each piece of the tutor's audio is a ``response.output_audio.delta``.

    The session's ``audio.output.format`` is read at each write: ``audio/pcm`` (24 kHz PCM16) or
    8 kHz G.711 (``audio/pcmu``, ``audio/pcma``). There is no playback on the server side, so
    ``clear`` has nothing to stop and no ``output_audio_buffer.*`` events are sent.
    """

    def __init__(self, call: "Call") -> None:
        self._call = call

    @property
    def rate(self) -> int:
        return _rate(self._call.session["audio"]["output"]["format"])

    @property
    def playing(self) -> None:
        return None

    def write(self, response_id: str, where: dict, pcm: bytes) -> None:
        audio_format = self._call.session["audio"]["output"]["format"]
        if audio_format.get("type") in ("audio/pcmu", "audio/pcma"):
            pcm = speech.g711_encode(pcm, audio_format["type"])
        self._call.emit("response.output_audio.delta", **where, delta=base64.b64encode(pcm).decode("ascii"))

    def clear(self) -> None:
        return None


class _Response:
    def __init__(self, response_id: str, *, conversation: bool, modalities: list[str], metadata: Any) -> None:
        self.id = response_id
        self.conversation = conversation
        self.modalities = modalities
        self.metadata = metadata
        self.output: list[dict] = []
        self.current: dict | None = None
        self.task: asyncio.Task | None = None
        self.finished = False
        self.input_text_tokens = 0
        self.input_audio_tokens = 0
        self.output_text_tokens = 0
        self.output_audio_tokens = 0


class Call:
    """One call: session, conversation, input audio turns and responses."""

    def __init__(
        self,
        *,
        call_id: str,
        session: dict[str, Any],
        send: Callable[[dict[str, Any]], None],
        transcribe: Transcribe = _default_transcribe,
        synthesize: Synthesize = speech.synthesize,
        pace: float = 0.02,
        transport: str = "webrtc",
        transcript_after_reply: bool = False,
    ) -> None:
        if transport not in TRANSPORTS:
            raise ValueError(f"unknown transport {transport!r}")
        self.call_id = call_id
        self.session = copy.deepcopy(session)
        self.conversation_id = config.new_id("conv")
        self.items: list[dict[str, Any]] = []
        self.transport = transport
        self.output: speech.AudioOutput | DeltaAudio = (
            speech.AudioOutput(on_started=self._audio_started, on_stopped=self._audio_stopped)
            if transport == "webrtc"
            else DeltaAudio(self)
        )
        self.closed = False
        # The learner's transcript is held back until the reply under way has started, as the
        # real API's asynchronous transcription often does (STANDIN_TRANSCRIPT_AFTER_REPLY).
        self._transcript_after_reply = transcript_after_reply
        self._held_transcripts: list[Callable[[], None]] = []
        self._input_resampler: speech.StreamResampler | None = None
        self._send = send
        self._transcribe = transcribe
        self._synthesize = synthesize
        self._pace = pace
        self._tutor = TutorScript()
        self._response: _Response | None = None
        self._last_response_id: str | None = None
        self._voice_locked = False
        self._tasks: set[asyncio.Task] = set()
        self._recognitions: dict[str, asyncio.Task] = {}
        self._buffer = bytearray()
        self._position_samples = 0
        self._turn_item_id: str | None = None
        self._vad: EnergyVAD | None = None
        self._configure_vad()

    # --- plumbing -----------------------------------------------------------------------------

    def emit(self, event_type: str, **fields: Any) -> None:
        if self.closed:
            return
        event = {"type": event_type, "event_id": config.new_id("event"), **fields}
        try:
            self._send(event)
        except Exception:  # a closing channel must not break the state machine
            logger.exception("could not send %s on call %s", event_type, self.call_id)

    def error(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        event_id: str | None = None,
        error_type: str = "invalid_request_error",
    ) -> None:
        self.emit(
            "error",
            error={"type": error_type, "code": code, "message": message, "param": param, "event_id": event_id},
        )

    def _spawn(self, coroutine: Awaitable) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _find(self, item_id: str) -> int | None:
        return next((index for index, item in enumerate(self.items) if item["id"] == item_id), None)

    def _previous_id(self, index: int) -> str | None:
        return self.items[index - 1]["id"] if index > 0 else None

    def _configure_vad(self) -> None:
        turn_detection = self.session["audio"]["input"]["turn_detection"]
        self._vad = None if turn_detection is None else EnergyVAD.from_turn_detection(turn_detection)
        self._vad_offset_ms = self._position_samples * 1000 // SAMPLE_RATE  # VAD times count from its creation
        self._turn_item_id = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """The data channel (or the socket) is open: announce the session."""
        self.emit("session.created", session=copy.deepcopy(self.session))

    def session_created(self) -> dict[str, Any]:
        """A ``session.created`` event with the session as it is now, for one connection that joins."""
        return {"type": "session.created", "event_id": config.new_id("event"), "session": copy.deepcopy(self.session)}

    async def settled(self) -> None:
        """Wait until the responses and transcriptions under way have finished."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.output.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # --- client events ------------------------------------------------------------------------

    async def receive(self, message: str | bytes) -> None:
        """Handle one message from the data channel."""
        if isinstance(message, (bytes, bytearray)):
            self.error("Binary messages are not supported; send JSON text.", code="invalid_event")
            return
        limit = MAX_EVENT_BYTES if self.transport == "webrtc" else MAX_SOCKET_EVENT_BYTES
        if len(message.encode("utf-8", "surrogatepass")) > limit:
            self.error(f"Message too large: events are limited to {limit} bytes.", code="message_too_large")
            return
        try:
            event = json.loads(message)
        except ValueError:
            self.error(
                "The server had trouble parsing your JSON. Make sure the message is valid JSON.",
                code="invalid_json",
            )
            return
        if not isinstance(event, dict):
            self.error("An event must be a JSON object.", code="invalid_event")
            return
        event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
        event_type = event.get("type")
        if event_type is None:
            self.error(
                "Missing required parameter: 'type'.", code="missing_required_parameter", param="type", event_id=event_id
            )
            return
        accepted = CLIENT_EVENTS if self.transport == "webrtc" else SOCKET_EVENTS
        if event_type not in accepted:
            supported = ", ".join(f"'{name}'" for name in accepted)
            self.error(
                f"Invalid value: {event_type!r}. Supported values are: {supported}.",
                code="invalid_value",
                param="type",
                event_id=event_id,
            )
            return
        handler = getattr(self, "_on_" + event_type.replace(".", "_"))
        try:
            handler(event)
        except InvalidRequest as problem:
            self.error(problem.message, code=problem.code, param=problem.param, event_id=event_id)

    def _require(self, event: dict, key: str) -> Any:
        if key not in event:
            raise InvalidRequest(
                f"Missing required parameter: '{key}'.", param=key, code="missing_required_parameter"
            )
        return event[key]

    def _on_session_update(self, event: dict) -> None:
        partial = self._require(event, "session")
        before = self.session["audio"]["input"]["turn_detection"]
        self.session = config.session_update(self.session, partial, voice_locked=self._voice_locked)
        if self.session["audio"]["input"]["turn_detection"] != before:
            self._configure_vad()
        self.emit("session.updated", session=copy.deepcopy(self.session))

    def _on_conversation_item_create(self, event: dict) -> None:
        item = self._item_from_client(self._require(event, "item"))
        previous = event.get("previous_item_id")
        if previous is None:
            index = len(self.items)
        elif previous == "root":
            index = 0
        else:
            found = self._find(previous)
            if found is None:
                raise InvalidRequest(
                    f"Previous item with id '{previous}' does not exist.", param="previous_item_id", code="item_not_found"
                )
            index = found + 1
        self._insert(index, item)

    def _insert(self, index: int, item: dict) -> None:
        self.items.insert(index, item)
        previous = self._previous_id(index)
        self.emit("conversation.item.added", previous_item_id=previous, item=copy.deepcopy(item))
        self.emit("conversation.item.done", previous_item_id=previous, item=copy.deepcopy(item))

    def _item_from_client(self, raw: Any) -> dict:
        if not isinstance(raw, dict):
            raise InvalidRequest("Invalid type for 'item': expected an object.", param="item", code="invalid_type")
        item_type = raw.get("type")
        item_id = raw.get("id") or config.new_id("item")
        if not isinstance(item_id, str) or len(item_id) > 64:
            raise InvalidRequest("Invalid 'item.id': expected a string of at most 64 characters.", param="item.id")
        if self._find(item_id) is not None:
            raise InvalidRequest(f"Item with id '{item_id}' already exists.", param="item.id", code="duplicate_item_id")
        base = {"id": item_id, "object": "realtime.item", "type": item_type, "status": "completed"}
        if item_type == "message":
            role = raw.get("role")
            parts_by_role = {
                "user": ("input_text", "input_audio", "input_image"),
                "system": ("input_text",),
                "assistant": ("output_text", "output_audio", "text", "audio"),
            }
            if role not in parts_by_role:
                raise InvalidRequest(
                    f"Invalid value: {role!r}. Supported values are: 'user', 'assistant' and 'system'.",
                    param="item.role",
                )
            content = raw.get("content")
            if not isinstance(content, list) or not content:
                raise InvalidRequest(
                    "Missing required parameter: 'item.content'.", param="item.content", code="missing_required_parameter"
                )
            parts = []
            for index, part in enumerate(content):
                param = f"item.content[{index}]"
                if not isinstance(part, dict) or part.get("type") not in parts_by_role[role]:
                    kind = part.get("type") if isinstance(part, dict) else part
                    allowed = ", ".join(f"'{p}'" for p in parts_by_role[role])
                    raise InvalidRequest(
                        f"Invalid value: {kind!r}. Supported values for a {role} message are: {allowed}.",
                        param=f"{param}.type",
                    )
                if part["type"] in ("input_text", "output_text", "text") and not isinstance(part.get("text"), str):
                    raise InvalidRequest(
                        f"Missing required parameter: '{param}.text'.",
                        param=f"{param}.text",
                        code="missing_required_parameter",
                    )
                clean = {key: value for key, value in part.items() if key != "audio"}
                if part["type"] in ("input_audio", "output_audio", "audio"):
                    clean.setdefault("transcript", None)
                parts.append(clean)
            return {**base, "role": role, "content": parts}
        if item_type == "function_call_output":
            for key in ("call_id", "output"):
                if not isinstance(raw.get(key), str):
                    raise InvalidRequest(
                        f"Missing required parameter: 'item.{key}'.", param=f"item.{key}", code="missing_required_parameter"
                    )
            return {**base, "call_id": raw["call_id"], "output": raw["output"]}
        if item_type == "function_call":
            for key in ("call_id", "name", "arguments"):
                if not isinstance(raw.get(key), str):
                    raise InvalidRequest(
                        f"Missing required parameter: 'item.{key}'.", param=f"item.{key}", code="missing_required_parameter"
                    )
            return {**base, "call_id": raw["call_id"], "name": raw["name"], "arguments": raw["arguments"]}
        raise InvalidRequest(
            f"Invalid value: {item_type!r}. Supported values are: 'message', 'function_call' and "
            "'function_call_output'.",
            param="item.type",
        )

    def _on_conversation_item_delete(self, event: dict) -> None:
        item_id = self._require(event, "item_id")
        index = self._find(item_id)
        if index is None:
            raise InvalidRequest(f"Item with item_id not found: {item_id}", param="item_id", code="item_not_found")
        del self.items[index]
        self.emit("conversation.item.deleted", item_id=item_id)

    def _on_conversation_item_retrieve(self, event: dict) -> None:
        item_id = self._require(event, "item_id")
        index = self._find(item_id)
        if index is None:
            raise InvalidRequest(f"Item with item_id not found: {item_id}", param="item_id", code="item_not_found")
        self.emit("conversation.item.retrieved", item=copy.deepcopy(self.items[index]))

    def _on_conversation_item_truncate(self, event: dict) -> None:
        item_id = self._require(event, "item_id")
        content_index = self._require(event, "content_index")
        audio_end_ms = self._require(event, "audio_end_ms")
        index = self._find(item_id)
        if index is None:
            raise InvalidRequest(f"Item with item_id not found: {item_id}", param="item_id", code="item_not_found")
        item = self.items[index]
        if item.get("role") != "assistant":
            raise InvalidRequest("Only assistant messages can be truncated.", param="item_id", code="invalid_value")
        if not isinstance(audio_end_ms, int) or audio_end_ms < 0:
            raise InvalidRequest("audio_end_ms must be a non-negative integer.", param="audio_end_ms")
        self.emit(
            "conversation.item.truncated", item_id=item_id, content_index=content_index, audio_end_ms=audio_end_ms
        )

    def _on_response_create(self, event: dict) -> None:
        if self._response is not None:
            raise InvalidRequest(
                f"Conversation already has an active response in progress: {self._response.id}. Wait until the "
                "response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        overrides = config.response_overrides(event.get("response"))
        self._response_start(overrides)

    def _on_response_cancel(self, event: dict) -> None:
        wanted = event.get("response_id")
        if self._response is None or (wanted is not None and wanted != self._response.id):
            raise InvalidRequest(
                "Cancellation failed: no active response found", code="response_cancel_not_active"
            )
        self._response_cancel("client_cancelled")

    def _on_input_audio_buffer_commit(self, event: dict) -> None:
        buffered_ms = len(self._buffer) // 2 * 1000 // SAMPLE_RATE
        if buffered_ms < MIN_COMMIT_MS:
            raise InvalidRequest(
                f"Error committing input audio buffer: buffer too small. Expected at least {MIN_COMMIT_MS}ms of "
                f"audio, but buffer only has {buffered_ms:.2f}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        pcm = bytes(self._buffer)
        self._buffer.clear()
        item_id = self._turn_item_id or config.new_id("item")
        if self._vad is not None:
            self._configure_vad()  # the turn under way ends here, not at the next silence
        self._commit(item_id, pcm, create_response=False)

    def _on_input_audio_buffer_clear(self, event: dict) -> None:
        self._buffer.clear()
        self._configure_vad()
        self.emit("input_audio_buffer.cleared")

    def _on_input_audio_buffer_append(self, event: dict) -> None:
        audio = self._require(event, "audio")
        if not isinstance(audio, str):
            raise InvalidRequest("Invalid type for 'audio': expected a base64 string.", param="audio", code="invalid_type")
        try:
            data = base64.b64decode(audio, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest("Invalid 'audio': not valid base64.", param="audio") from None
        audio_format = self.session["audio"]["input"]["format"]
        if audio_format.get("type") in ("audio/pcmu", "audio/pcma"):
            data = speech.g711_decode(data, audio_format["type"])
        rate = _rate(audio_format)
        if self._input_resampler is None or self._input_resampler.from_rate != rate:
            self._input_resampler = speech.StreamResampler(rate, SAMPLE_RATE)
        self.feed_audio(self._input_resampler.feed(data))

    def _on_output_audio_buffer_clear(self, event: dict) -> None:
        if self.transport != "webrtc":
            raise InvalidRequest(
                "output_audio_buffer.clear is only supported for WebRTC and SIP calls: over a WebSocket the "
                "client plays the audio and stops it itself.",
                param="type",
            )
        playing = self.output.clear()
        self.emit("output_audio_buffer.cleared", response_id=playing or self._last_response_id)

    # --- input audio --------------------------------------------------------------------------

    def feed_audio(self, pcm: bytes) -> None:
        """Learner audio, 16 kHz mono int16, as it arrives."""
        if self.closed:
            return
        self._position_samples += len(pcm) // 2
        # Everything since the last commit, for input_audio_buffer.commit (push-to-talk, or a
        # manual commit under server VAD).
        self._buffer += pcm
        excess = len(self._buffer) - MAX_BUFFER_MS * SAMPLE_RATE // 1000 * 2
        if excess > 0:
            del self._buffer[:excess]
        if self._vad is None:
            return
        for event in self._vad.feed(pcm):
            if isinstance(event, SpeechStarted):
                self._speech_started(event)
            elif isinstance(event, SpeechStopped):
                self._speech_stopped(event)

    def _speech_started(self, event: SpeechStarted) -> None:
        self._turn_item_id = config.new_id("item")
        self.emit(
            "input_audio_buffer.speech_started",
            audio_start_ms=self._vad_offset_ms + event.audio_start_ms,
            item_id=self._turn_item_id,
        )
        turn_detection = self.session["audio"]["input"]["turn_detection"] or {}
        if turn_detection.get("interrupt_response", True):
            if self._response is not None:
                self._response_cancel("turn_detected")
            playing = self.output.clear()
            if playing is not None:
                self.emit("output_audio_buffer.cleared", response_id=playing)

    def _speech_stopped(self, event: SpeechStopped) -> None:
        item_id = self._turn_item_id or config.new_id("item")
        self._turn_item_id = None
        self._buffer.clear()
        self.emit(
            "input_audio_buffer.speech_stopped", audio_end_ms=self._vad_offset_ms + event.audio_end_ms, item_id=item_id
        )
        turn_detection = self.session["audio"]["input"]["turn_detection"] or {}
        self._commit(item_id, event.pcm, create_response=turn_detection.get("create_response", True))

    def _commit(self, item_id: str, pcm: bytes, *, create_response: bool) -> None:
        previous = self.items[-1]["id"] if self.items else None
        self.emit("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self._insert(len(self.items), item)
        self._recognitions[item_id] = self._spawn(self._recognise(item_id, pcm))
        if create_response and self._response is None:
            self._response_start({})

    async def _recognise(self, item_id: str, pcm: bytes) -> None:
        seconds = len(pcm) / 2 / SAMPLE_RATE
        terms = focus_words(self.session.get("instructions"))
        transcription = self.session["audio"]["input"]["transcription"]
        failure = None
        try:
            text, word_logprobs = _recognised(await asyncio.to_thread(self._transcribe, pcm, terms))
        except asyncio.CancelledError:
            raise
        except Exception as problem:  # recogniser failure is reported, the call goes on
            logger.exception("transcription failed on call %s", self.call_id)
            text, word_logprobs, failure = "", [], problem
        transcript = text or f"[speech {seconds:.1f} s]"
        # The placeholder is no transcription: it has no tokens, so no logprobs.
        logprobs = transcript_logprobs(word_logprobs if text else [])
        index = self._find(item_id)
        if index is not None:
            self.items[index]["content"][0]["transcript"] = transcript
        self._recognitions.pop(item_id, None)
        if transcription is None:
            return

        def report() -> None:
            if failure is not None:
                self.emit(
                    "conversation.item.input_audio_transcription.failed",
                    item_id=item_id,
                    content_index=0,
                    error={"type": "transcription_error", "code": "audio_unintelligible", "message": str(failure), "param": None},
                )
                return
            # The logprobs, as OpenAI sends them, only when the session asked for them.
            extra = {"logprobs": logprobs} if LOGPROBS in (self.session.get("include") or []) else {}
            self.emit(
                "conversation.item.input_audio_transcription.delta",
                item_id=item_id, content_index=0, delta=transcript, **extra,
            )
            self.emit(
                "conversation.item.input_audio_transcription.completed",
                item_id=item_id,
                content_index=0,
                transcript=transcript,
                usage={"type": "duration", "seconds": round(seconds, 1)},
                **extra,
            )

        if self._transcript_after_reply and self._response is not None:
            self._held_transcripts.append(report)
        else:
            report()

    def _release_transcripts(self) -> None:
        """Send the transcripts held back until the reply had started."""
        held, self._held_transcripts = self._held_transcripts, []
        for report in held:
            report()

    # --- output audio -------------------------------------------------------------------------

    def _audio_started(self, response_id: str) -> None:
        self.emit("output_audio_buffer.started", response_id=response_id)

    def _audio_stopped(self, response_id: str) -> None:
        self.emit("output_audio_buffer.stopped", response_id=response_id)

    # --- responses ----------------------------------------------------------------------------

    def _response_object(self, response: _Response, status: str, details: Any = None) -> dict:
        done = status != "in_progress"
        return {
            "object": "realtime.response",
            "id": response.id,
            "status": status,
            "status_details": details,
            "output": copy.deepcopy(response.output) if done else [],
            "conversation_id": self.conversation_id if response.conversation else None,
            "output_modalities": response.modalities,
            "max_output_tokens": self.session["max_output_tokens"],
            "audio": {
                "output": {
                    "format": self.session["audio"]["output"]["format"],
                    "voice": self.session["audio"]["output"]["voice"],
                }
            },
            "usage": usage(
                input_text=response.input_text_tokens,
                input_audio=response.input_audio_tokens,
                output_text=response.output_text_tokens,
                output_audio=response.output_audio_tokens,
            )
            if done
            else None,
            "metadata": response.metadata,
        }

    def _response_start(self, overrides: dict) -> None:
        response = _Response(
            config.new_id("resp"),
            conversation=overrides.get("conversation", "auto") == "auto",
            modalities=overrides.get("output_modalities", self.session["output_modalities"]),
            metadata=overrides.get("metadata"),
        )
        self._response = response
        self._last_response_id = response.id
        self.emit("response.created", response=self._response_object(response, "in_progress"))
        response.task = self._spawn(self._respond(response, overrides))

    def _response_finish(self, response: _Response, status: str, details: Any = None) -> None:
        if response.finished:
            return
        response.finished = True
        if self._response is response:
            self._response = None
        self.emit("response.done", response=self._response_object(response, status, details))
        self._release_transcripts()

    def _response_cancel(self, reason: str) -> None:
        response = self._response
        if response is None:
            return
        item = response.current
        if item is not None:
            item["status"] = "incomplete"
            self._output_item_done(response, item)
        if response.task is not None:
            response.task.cancel()
        self._response_finish(response, "cancelled", {"type": "cancelled", "reason": reason})

    def _output_item_done(self, response: _Response, item: dict) -> None:
        response.current = None
        response.output.append(copy.deepcopy(item))
        output_index = len(response.output) - 1
        self.emit("response.output_item.done", response_id=response.id, output_index=output_index, item=copy.deepcopy(item))
        if response.conversation:
            self.emit("conversation.item.done", item=copy.deepcopy(item))

    def _output_item_add(self, response: _Response, item: dict) -> int:
        response.current = item
        output_index = len(response.output)
        self.emit("response.output_item.added", response_id=response.id, output_index=output_index, item=copy.deepcopy(item))
        if response.conversation:
            self.items.append(item)
            self.emit("conversation.item.added", previous_item_id=self._previous_id(len(self.items) - 1), item=copy.deepcopy(item))
        return output_index

    async def _respond(self, response: _Response, overrides: dict) -> None:
        try:
            pending = list(self._recognitions.values())
            if pending:
                await asyncio.wait(pending, timeout=RECOGNITION_WAIT_S)
            conversation = self.items
            if "input" in overrides:
                conversation = [item for item in overrides["input"] if isinstance(item, dict)]
            response.input_text_tokens = text_tokens(self.session["instructions"]) + sum(
                text_tokens(json.dumps(item.get("content", item.get("output", "")))) for item in conversation
            )
            response.input_audio_tokens = sum(
                10 for item in conversation for part in item.get("content") or [] if part.get("type") == "input_audio"
            )
            reply = self._tutor.reply(
                instructions=overrides.get("instructions", self.session["instructions"]),
                tools=overrides.get("tools", self.session["tools"]),
                tool_choice=overrides.get("tool_choice", self.session["tool_choice"]),
                conversation=conversation,
            )
            status, details = "completed", None
            if reply.tool_name is not None:
                await self._function_call(response, reply.tool_name, reply.arguments or "{}")
            else:
                text = reply.text or ""
                limit = overrides.get("max_output_tokens", self.session["max_output_tokens"])
                if isinstance(limit, int) and text_tokens(text) > limit:
                    text = text[: limit * 4]
                    status, details = "incomplete", {"type": "incomplete", "reason": "max_output_tokens"}
                await self._message(response, text, overrides)
            self._response_finish(response, status, details)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("response %s failed on call %s", response.id, self.call_id)
            self._response_finish(
                response,
                "failed",
                {"type": "failed", "error": {"type": "server_error", "code": "stand_in_error", "message": "The stand-in failed."}},
            )

    async def _message(self, response: _Response, text: str, overrides: dict) -> None:
        audio = response.modalities == ["audio"]
        item = {
            "id": config.new_id("item"),
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        output_index = self._output_item_add(response, item)
        where = {"response_id": response.id, "item_id": item["id"], "output_index": output_index, "content_index": 0}
        # Content parts in response.content_part.* are typed "audio"/"text" (the spec's
        # RealtimeServerEventResponseContentPart*); the item's own content says output_audio/output_text.
        self.emit("response.content_part.added", **where, part={"type": "audio", "transcript": ""} if audio else {"type": "text", "text": ""})
        pieces = _chunks(text, 12)
        audio_pieces: list[bytes] = []
        if audio:
            output = {**self.session["audio"]["output"], **overrides.get("audio", {}).get("output", {})}
            pcm = await self._synthesize(text, voice=output["voice"], speed=output.get("speed", 1.0))
            response.output_audio_tokens = math.ceil(len(pcm) / 2 / speech.OUTPUT_RATE * 10)
            audio_pieces = _split(speech.resample(pcm, speech.OUTPUT_RATE, self.output.rate), len(pieces))
            self._voice_locked = True
        delta_event = "response.output_audio_transcript.delta" if audio else "response.output_text.delta"
        sent = ""
        for index, piece in enumerate(pieces):
            # The audio streams while the response is generated: with WebRTC the track starts
            # playing (output_audio_buffer.started) long before response.done.
            if audio:
                self.output.write(response.id, where, audio_pieces[index])
            sent += piece
            part = {"type": "output_audio", "transcript": sent} if audio else {"type": "output_text", "text": sent}
            item["content"] = [part]
            self.emit(delta_event, **where, delta=piece)
            if index == 0:
                self._release_transcripts()
            await asyncio.sleep(self._pace)
        response.output_text_tokens = text_tokens(text)
        if audio:
            self.emit("response.output_audio.done", **where)
            self.emit("response.output_audio_transcript.done", **where, transcript=text)
        else:
            self.emit("response.output_text.done", **where, text=text)
        self.emit("response.content_part.done", **where, part={"type": "audio", "transcript": text} if audio else {"type": "text", "text": text})
        item["content"] = [{"type": "output_audio", "transcript": text} if audio else {"type": "output_text", "text": text}]
        item["status"] = "completed"
        self._output_item_done(response, item)

    async def _function_call(self, response: _Response, name: str, arguments: str) -> None:
        item = {
            "id": config.new_id("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "name": name,
            "call_id": config.new_id("call"),
            "arguments": "",
        }
        output_index = self._output_item_add(response, item)
        where = {"response_id": response.id, "item_id": item["id"], "output_index": output_index, "call_id": item["call_id"]}
        for index in range(0, len(arguments), 16):
            piece = arguments[index : index + 16]
            item["arguments"] += piece
            self.emit("response.function_call_arguments.delta", **where, delta=piece)
            if index == 0:
                self._release_transcripts()
            await asyncio.sleep(self._pace)
        item["arguments"] = arguments
        response.output_text_tokens = text_tokens(arguments)
        self.emit("response.function_call_arguments.done", **where, name=name, arguments=arguments)
        item["status"] = "completed"
        self._output_item_done(response, item)

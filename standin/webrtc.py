"""WebRTC plumbing for stand-in calls: aiortc answers the caller's offer and wires it to a ``Call``.

- No ICE servers (a loopback-only network has none), and a 127.0.0.1 host candidate added to
  aioice's gathering, which leaves loopback out on its own.
- One outbound audio track that plays ``call.output`` (speech or silence) in 20 ms frames.
- The inbound audio track, resampled to 16 kHz mono, feeds ``call.feed_audio`` (VAD, turns).
- The ``oai-events`` data channel carries the JSON events both ways.
- Sidebands (``GET /v1/realtime?call_id=…``, ``standin/realtime_ws.py``) attach to a live call:
  each gets every server event the data channel gets, in the same order, and its client events
  join the data channel's in one queue, so the call handles them exactly alike.

Live calls are in-process objects in ``CALLS``. A call ends on hangup, when the peer goes away
(data channel closed, connection failed or closed), when it does not connect within
``CONNECT_TIMEOUT_S``, or when the server shuts down; ending it closes the peer connection and
removes it from the registry.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import logging
import re
import sys
import time
from typing import Any, Protocol

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from standin import config, speech
from standin.call import Call
from standin.vad import SAMPLE_RATE

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 30.0
LOOPBACK = "127.0.0.1"
EVENTS_CHANNEL = "oai-events"

CALLS: dict[str, "RealtimeCall"] = {}


CLOSE_NORMAL = 1000


class Sideband(Protocol):
    """A connection attached to a call that is not its peer: a server's control socket."""

    def deliver(self, text: str) -> None:
        """One server event, as JSON text; must not block."""

    def call_ended(self, code: int) -> None:
        """The call is over: close with this WebSocket close code."""


class BadOffer(ValueError):
    """The SDP offer cannot be answered."""


def offer_check(sdp: str) -> None:
    """Refuse what is plainly not a WebRTC offer before aiortc sees it."""
    if not sdp.lstrip().startswith("v=0"):
        raise BadOffer("The SDP offer must start with 'v=0'.")
    if not re.search(r"^m=(audio|application) ", sdp, re.MULTILINE):
        raise BadOffer("The SDP offer has no audio or data channel media section.")
    for attribute in ("ice-ufrag", "ice-pwd", "fingerprint"):
        if f"a={attribute}:" not in sdp:
            raise BadOffer(f"The SDP offer has no a={attribute} line.")


def loopback_candidates(pc: RTCPeerConnection) -> None:
    """Make aioice gather a 127.0.0.1 host candidate too (it skips loopback addresses)."""
    for transport in getattr(pc, "_RTCPeerConnection__iceTransports", ()):
        connection = transport.iceGatherer._connection
        gather = connection.get_component_candidates

        async def get_component_candidates(component, addresses, timeout=5, _gather=gather):
            if LOOPBACK not in addresses:
                addresses = [*addresses, LOOPBACK]
            return await _gather(component=component, addresses=addresses, timeout=timeout)

        connection.get_component_candidates = get_component_candidates


class OutboundAudio(MediaStreamTrack):
    """The tutor's voice: 20 ms frames from an ``AudioOutput``, silence in between, in real time."""

    kind = "audio"

    def __init__(self, output: speech.AudioOutput) -> None:
        super().__init__()
        self._output = output
        self._start: float | None = None
        self._timestamp = 0

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._timestamp += speech.FRAME_SAMPLES
            wait = self._start + self._timestamp / speech.OUTPUT_RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        frame = av.AudioFrame(format="s16", layout="mono", samples=speech.FRAME_SAMPLES)
        frame.planes[0].update(self._output.next_frame())
        frame.pts = self._timestamp
        frame.sample_rate = speech.OUTPUT_RATE
        frame.time_base = fractions.Fraction(1, speech.OUTPUT_RATE)
        return frame


class RealtimeCall:
    """One live call: an aiortc peer connection around a ``Call`` state machine."""

    def __init__(self, *, session: dict[str, Any], call_id: str | None = None, **call_options: Any) -> None:
        self.call_id = call_id or config.new_id("rtc")
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.call = Call(call_id=self.call_id, session=session, send=self._send, **call_options)
        self.channel = None
        self.sidebands: set[Sideband] = set()
        self.ended = asyncio.Event()
        self._closing = False
        self._inbox: asyncio.Queue[str | bytes | None] = asyncio.Queue()
        self._tasks: set[asyncio.Task] = set()
        self.pc.on("datachannel", self._on_datachannel)
        self.pc.on("track", self._on_track)
        self.pc.on("connectionstatechange", self._on_connection_state)

    def _spawn(self, coroutine) -> asyncio.Task:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def answer(self, offer_sdp: str) -> str:
        """Answer ``offer_sdp``; the call is live (in ``CALLS``) once this returns."""
        try:
            offer_check(offer_sdp)
        except BadOffer:
            await self.pc.close()
            raise
        try:
            await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        except Exception as problem:
            await self.pc.close()
            raise BadOffer(f"The SDP offer could not be applied: {problem}") from problem
        if any(t.kind == "audio" for t in self.pc.getTransceivers()):
            self.pc.addTrack(OutboundAudio(self.call.output))
        loopback_candidates(self.pc)
        try:
            await self.pc.setLocalDescription(await self.pc.createAnswer())
        except Exception as problem:
            await self.pc.close()
            raise BadOffer(f"The SDP offer could not be answered: {problem}") from problem
        CALLS[self.call_id] = self
        _shutdown_hook_install()
        self._spawn(self._events())
        self._spawn(self._connect_watchdog())
        return self.pc.localDescription.sdp

    # --- events from the peer -----------------------------------------------------------------

    def _on_datachannel(self, channel) -> None:
        if channel.label != EVENTS_CHANNEL or self.channel is not None:
            return
        self.channel = channel
        channel.on("message", self._inbox.put_nowait)
        channel.on("close", lambda: self._spawn(self.close("data channel closed")))
        self.call.start()

    def _on_track(self, track) -> None:
        if track.kind == "audio":
            self._spawn(self._listen(track))

    async def _on_connection_state(self) -> None:
        if self.pc.connectionState in ("failed", "closed"):
            await self.close(f"connection {self.pc.connectionState}")

    def _send(self, event: dict[str, Any]) -> None:
        text = json.dumps(event, ensure_ascii=False)
        if self.channel is not None and self.channel.readyState == "open":
            self.channel.send(text)
        for sideband in list(self.sidebands):
            sideband.deliver(text)

    # --- sidebands ----------------------------------------------------------------------------

    def attach(self, sideband: Sideband) -> None:
        """Join ``sideband`` to the call: a ``session.created`` with the session as it is now (as
        any new connection gets first), then every event from here on."""
        if self._closing:
            sideband.call_ended(CLOSE_NORMAL)
            return
        if self.channel is not None:  # otherwise the call's own session.created is still to come
            sideband.deliver(json.dumps(self.call.session_created(), ensure_ascii=False))
        self.sidebands.add(sideband)

    def detach(self, sideband: Sideband) -> None:
        self.sidebands.discard(sideband)

    def submit(self, message: str | bytes) -> None:
        """A client event from a sideband, handled in turn with the data channel's."""
        if not self._closing:
            self._inbox.put_nowait(message)

    async def _events(self) -> None:
        while (message := await self._inbox.get()) is not None:
            await self.call.receive(message)

    async def _listen(self, track) -> None:
        resampler = av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            for piece in resampler.resample(frame):
                self.call.feed_audio(bytes(piece.planes[0])[: piece.samples * 2])

    async def _connect_watchdog(self) -> None:
        await asyncio.sleep(CONNECT_TIMEOUT_S)
        if self.channel is None:
            await self.close("no data channel within the connect timeout")

    # --- ending -------------------------------------------------------------------------------

    async def close(self, reason: str = "hangup") -> None:
        if self._closing:
            return
        self._closing = True
        logger.info("call %s ends: %s", self.call_id, reason)
        CALLS.pop(self.call_id, None)
        self._inbox.put_nowait(None)
        await self.call.close()
        sidebands, self.sidebands = self.sidebands, set()
        for sideband in sidebands:
            sideband.call_ended(CLOSE_NORMAL)
        current = asyncio.current_task()
        for task in list(self._tasks):
            if task is not current:
                task.cancel()
        await self.pc.close()
        self.ended.set()


async def call_hangup(call_id: str) -> bool:
    """End a live call; False when there is no such call."""
    call = CALLS.get(call_id)
    if call is None:
        return False
    await call.close("hangup")
    return True


async def calls_close_all() -> None:
    await asyncio.gather(*(call.close("server shutdown") for call in list(CALLS.values())), return_exceptions=True)


_hook_installed = False


def _shutdown_hook_install() -> None:
    """Under daphne (Twisted's asyncio reactor), end every call before the reactor stops."""
    global _hook_installed
    if _hook_installed or "twisted.internet.reactor" not in sys.modules:
        return
    from twisted.internet import defer, reactor

    def before_shutdown():
        return defer.Deferred.fromFuture(asyncio.ensure_future(calls_close_all()))

    reactor.addSystemEventTrigger("before", "shutdown", before_shutdown)
    _hook_installed = True

"""An aiortc caller for tests: offers audio + the ``oai-events`` channel, collects server events."""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from typing import Any, Callable

import av
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from standin.webrtc import loopback_candidates

RATE = 48000
FRAME = 960


class PcmSource(MediaStreamTrack):
    """A microphone stand-in: plays queued 48 kHz mono int16 PCM in real time, silence otherwise."""

    kind = "audio"

    def __init__(self) -> None:
        super().__init__()
        self._pending = bytearray()
        self._start: float | None = None
        self._timestamp = 0

    def play(self, pcm: bytes) -> None:
        self._pending += pcm

    async def recv(self) -> av.AudioFrame:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        else:
            self._timestamp += FRAME
            wait = self._start + self._timestamp / RATE - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        chunk = bytes(self._pending[: FRAME * 2])
        del self._pending[: FRAME * 2]
        frame = av.AudioFrame(format="s16", layout="mono", samples=FRAME)
        frame.planes[0].update(chunk + bytes(FRAME * 2 - len(chunk)))
        frame.pts = self._timestamp
        frame.sample_rate = RATE
        frame.time_base = fractions.Fraction(1, RATE)
        return frame


class RealtimeCaller:
    def __init__(self, *, audio: bool = True) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.channel = self.pc.createDataChannel("oai-events")
        self.events: list[dict[str, Any]] = []
        self.opened = asyncio.Event()
        self.closed = asyncio.Event()
        self.microphone = PcmSource() if audio else None
        self.remote_audio_frames = 0
        self._changed = asyncio.Condition()
        if self.microphone is not None:
            self.pc.addTrack(self.microphone)
        self.channel.on("open", self.opened.set)
        self.channel.on("close", self.closed.set)
        self.channel.on("message", self._on_message)
        self.pc.on("track", self._on_track)

    def _on_message(self, message: str) -> None:
        self.events.append(json.loads(message))
        asyncio.ensure_future(self._notify())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def _on_track(self, track) -> None:
        async def drain():
            while True:
                try:
                    await track.recv()
                except MediaStreamError:
                    return
                self.remote_audio_frames += 1

        asyncio.ensure_future(drain())

    async def offer(self) -> str:
        loopback_candidates(self.pc)
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return self.pc.localDescription.sdp

    async def accept(self, answer_sdp: str, *, timeout: float = 10.0) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))
        await asyncio.wait_for(self.opened.wait(), timeout)

    def send(self, event: dict[str, Any] | str) -> None:
        self.channel.send(event if isinstance(event, str) else json.dumps(event))

    def types(self) -> list[str]:
        return [event["type"] for event in self.events]

    async def wait_for(
        self,
        event_type: str,
        predicate: Callable[[dict[str, Any]], bool] = lambda event: True,
        *,
        after: int = 0,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """The first event of ``event_type`` (from index ``after``) matching ``predicate``."""

        def found():
            return next(
                (e for e in self.events[after:] if e["type"] == event_type and predicate(e)),
                None,
            )

        async def wait():
            async with self._changed:
                await self._changed.wait_for(lambda: found() is not None)

        try:
            await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"no {event_type} within {timeout} s; got {self.types()}") from None
        return found()

    async def close(self) -> None:
        await self.pc.close()

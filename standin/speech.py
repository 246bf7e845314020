"""The tutor's voice: text to 48 kHz mono 16-bit PCM, and the output buffer the audio track plays.

``synthesize`` runs espeak-ng (when installed) and resamples its 22.05 kHz output to 48 kHz with
PyAV; without espeak-ng it returns a soft 440 Hz tone as long as the sentence would take to say,
so the learner still hears that the tutor "spoke". ``AudioOutput`` queues that PCM per response
and hands out 20 ms frames to the WebRTC track; it reports when a response's audio starts and
stops playing (``output_audio_buffer.started`` / ``.stopped``) and can be cleared.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import struct
from array import array
from collections import deque
from typing import Callable

import av

OUTPUT_RATE = 48000
FRAME_SAMPLES = 960  # 20 ms at 48 kHz
FRAME_BYTES = FRAME_SAMPLES * 2
WORDS_PER_MINUTE = 165
SECONDS_PER_CHARACTER = 0.065

# Each API voice gets a fixed espeak-ng variant, so voices differ but stay deterministic.
ESPEAK_VOICES = {
    "alloy": "en-us",
    "ash": "en-us+m3",
    "ballad": "en-gb+m2",
    "coral": "en-us+f2",
    "echo": "en-us+m1",
    "sage": "en-gb+f3",
    "shimmer": "en-us+f4",
    "verse": "en-gb+m4",
    "marin": "en-us+f3",
    "cedar": "en-us+m7",
}


def resample(pcm: bytes, from_rate: int, to_rate: int) -> bytes:
    """Resample mono int16 PCM."""
    if from_rate == to_rate or not pcm:
        return pcm
    frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
    frame.planes[0].update(pcm[: (len(pcm) // 2) * 2])
    frame.sample_rate = from_rate
    resampler = av.AudioResampler(format="s16", layout="mono", rate=to_rate)
    out = bytearray()
    for piece in [*resampler.resample(frame), *resampler.resample(None)]:
        out += bytes(piece.planes[0])[: piece.samples * 2]
    return bytes(out)


def wav_pcm(data: bytes) -> tuple[bytes, int]:
    """PCM and sample rate of a mono 16-bit WAV, tolerating espeak-ng's unset stream sizes."""
    if data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValueError("not a WAV file")
    rate = struct.unpack_from("<I", data, 24)[0]
    position = 12
    while position + 8 <= len(data):
        chunk, size = data[position : position + 4], struct.unpack_from("<I", data, position + 4)[0]
        if chunk == b"data":
            pcm = data[position + 8 :]
            return pcm[: len(pcm) // 2 * 2], rate
        position += 8 + size
    raise ValueError("WAV without a data chunk")


def tone(seconds: float, *, rate: int = OUTPUT_RATE, frequency: float = 440.0) -> bytes:
    """A quiet sine with 20 ms fades."""
    count = int(seconds * rate)
    fade = int(0.02 * rate)
    samples = array("h", bytes(count * 2))
    for i in range(count):
        gain = min(1.0, i / fade, (count - 1 - i) / fade) if fade else 1.0
        samples[i] = int(3000 * gain * math.sin(2 * math.pi * frequency * i / rate))
    return samples.tobytes()


def spoken_seconds(text: str) -> float:
    return max(0.5, len(text) * SECONDS_PER_CHARACTER)


async def synthesize(text: str, *, voice: str | dict = "alloy", speed: float = 1.0) -> bytes:
    """48 kHz mono int16 PCM of ``text`` (espeak-ng, or a tone when espeak-ng is missing)."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        return tone(spoken_seconds(text) / speed)
    variant = ESPEAK_VOICES.get(voice, "en-us") if isinstance(voice, str) else "en-us"
    process = await asyncio.create_subprocess_exec(
        binary,
        "--stdout",
        "-v",
        variant,
        "-s",
        str(int(WORDS_PER_MINUTE * speed)),
        "--",
        text,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    data, _ = await process.communicate()
    try:
        pcm, rate = wav_pcm(data)
    except ValueError:
        return tone(spoken_seconds(text) / speed)
    return await asyncio.to_thread(resample, pcm, rate, OUTPUT_RATE)


class StreamResampler:
    """Resample a stream of mono int16 PCM piece by piece, keeping the filter state between pieces."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate = from_rate
        self.to_rate = to_rate
        self._resampler = av.AudioResampler(format="s16", layout="mono", rate=to_rate)

    def feed(self, pcm: bytes) -> bytes:
        if self.from_rate == self.to_rate or len(pcm) < 2:
            return pcm[: len(pcm) // 2 * 2]
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
        frame.planes[0].update(pcm[: (len(pcm) // 2) * 2])
        frame.sample_rate = self.from_rate
        return b"".join(bytes(piece.planes[0])[: piece.samples * 2] for piece in self._resampler.resample(frame))


def g711_decode(data: bytes, law: str) -> bytes:
    """8 kHz G.711 (``audio/pcmu`` or ``audio/pcma``) to 8 kHz int16 PCM."""
    codec = _audioop()
    return codec.ulaw2lin(data, 2) if law == "audio/pcmu" else codec.alaw2lin(data, 2)


def g711_encode(pcm: bytes, law: str) -> bytes:
    """8 kHz int16 PCM to G.711 (``audio/pcmu`` or ``audio/pcma``)."""
    codec = _audioop()
    return codec.lin2ulaw(pcm, 2) if law == "audio/pcmu" else codec.lin2alaw(pcm, 2)


def _audioop():
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import audioop
    return audioop


class AudioOutput:
    """Queued assistant audio, read 20 ms at a time by the outbound track (the WebRTC transport's sink).

    A sink takes the tutor's audio at ``rate`` with ``write`` while the response is generated and
    drops what is left with ``clear``.
    """

    rate = OUTPUT_RATE

    def __init__(
        self,
        *,
        on_started: Callable[[str], None] = lambda response_id: None,
        on_stopped: Callable[[str], None] = lambda response_id: None,
    ) -> None:
        self.on_started = on_started
        self.on_stopped = on_stopped
        self._queue: deque[tuple[str, bytearray]] = deque()
        self._current: str | None = None

    @property
    def playing(self) -> str | None:
        """The response whose audio is playing, if any."""
        return self._current

    def enqueue(self, response_id: str, pcm: bytes) -> None:
        if not pcm:
            return
        if self._queue and self._queue[-1][0] == response_id:
            self._queue[-1][1].extend(pcm)
        else:
            self._queue.append((response_id, bytearray(pcm)))

    def write(self, response_id: str, where: dict, pcm: bytes) -> None:
        """A piece of a response's audio, as it is generated (``where`` locates it in the response)."""
        self.enqueue(response_id, pcm)

    def clear(self) -> str | None:
        """Drop all queued audio; return the response that was playing."""
        current = self._current
        self._queue.clear()
        self._current = None
        return current

    def next_frame(self) -> bytes:
        """The next 20 ms of audio (silence when nothing is queued)."""
        frame = bytearray()
        while len(frame) < FRAME_BYTES and self._queue:
            response_id, pcm = self._queue[0]
            if self._current != response_id:
                if self._current is not None:
                    self._finish()
                self._current = response_id
                self.on_started(response_id)
            take = pcm[: FRAME_BYTES - len(frame)]
            del pcm[: len(take)]
            frame += take
            if not pcm:
                self._queue.popleft()
                if not self._queue or self._queue[0][0] != response_id:
                    self._finish()
        return bytes(frame) + bytes(FRAME_BYTES - len(frame))

    def _finish(self) -> None:
        finished, self._current = self._current, None
        if finished is not None:
            self.on_stopped(finished)

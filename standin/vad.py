"""Energy voice activity detection on 16-bit mono PCM, driven by the session's server_vad settings.

The signal is cut into 10 ms windows and each window's RMS is compared with a level derived from
``threshold`` (0..1). The mapping is logarithmic, from -60 dBFS at 0 to -10 dBFS at 1::

    level_rms = 32768 * 10 ** ((-60 + 50 * threshold) / 20)

so the API default 0.5 is -35 dBFS, an RMS of about 580: between the silence (RMS well under 10)
and the speech (RMS 3,500-4,400 for espeak-ng through Chromium's fake microphone and Opus) seen on
these machines. 0.8 (-20 dBFS, RMS 3,300) still catches clear speech; 0.9 and above needs shouting.

Speech starts on the first window at or above the level; the turn begins ``prefix_padding_ms``
earlier (``audio_start_ms`` includes the padding, as in the API). Speech stops once the windows
stay below the level for ``silence_duration_ms``; ``audio_end_ms`` is that moment, silence
included. A turn longer than ``max_turn_ms`` is cut there, so a never-silent input cannot grow a
buffer without bound.
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from dataclasses import dataclass

SAMPLE_RATE = 16000
WINDOW_MS = 10
SEMANTIC_SILENCE_MS = {"low": 1500, "medium": 800, "high": 300, "auto": 800}


def threshold_to_rms(threshold: float) -> float:
    """The RMS level (int16 full scale 32768) that a 0..1 threshold stands for."""
    threshold = min(1.0, max(0.0, threshold))
    return 32768.0 * 10 ** ((-60.0 + 50.0 * threshold) / 20.0)


def rms(samples: array) -> float:
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


@dataclass(frozen=True)
class SpeechStarted:
    audio_start_ms: int


@dataclass(frozen=True)
class SpeechStopped:
    audio_start_ms: int
    audio_end_ms: int
    pcm: bytes
    sample_rate: int

    @property
    def duration_s(self) -> float:
        return len(self.pcm) / 2 / self.sample_rate


class EnergyVAD:
    """Feed PCM with :meth:`feed`; it returns the speech start/stop events the audio produced."""

    def __init__(
        self,
        *,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        sample_rate: int = SAMPLE_RATE,
        max_turn_ms: int = 30_000,
    ) -> None:
        self.level = threshold_to_rms(threshold)
        self.prefix_padding_ms = prefix_padding_ms
        self.silence_duration_ms = silence_duration_ms
        self.sample_rate = sample_rate
        self.max_turn_ms = max_turn_ms
        self._window = sample_rate * WINDOW_MS // 1000
        self._pending = array("h")
        self._prefix: deque[array] = deque(maxlen=max(1, prefix_padding_ms // WINDOW_MS))
        self._turn: list[array] | None = None
        self._turn_start_ms = 0
        self._silent_ms = 0
        self._position_ms = 0  # end of the last window consumed

    @classmethod
    def from_turn_detection(cls, turn_detection: dict, *, sample_rate: int = SAMPLE_RATE) -> "EnergyVAD":
        if turn_detection.get("type") == "semantic_vad":
            silence = SEMANTIC_SILENCE_MS.get(turn_detection.get("eagerness", "auto"), 800)
            return cls(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=silence, sample_rate=sample_rate)
        return cls(
            threshold=turn_detection.get("threshold", 0.5),
            prefix_padding_ms=turn_detection.get("prefix_padding_ms", 300),
            silence_duration_ms=turn_detection.get("silence_duration_ms", 500),
            sample_rate=sample_rate,
        )

    @property
    def in_speech(self) -> bool:
        return self._turn is not None

    @property
    def position_ms(self) -> int:
        return self._position_ms

    def feed(self, pcm: bytes) -> list[SpeechStarted | SpeechStopped]:
        self._pending.frombytes(pcm)
        events: list[SpeechStarted | SpeechStopped] = []
        while len(self._pending) >= self._window:
            window = self._pending[: self._window]
            del self._pending[: self._window]
            event = self._window_in(window)
            if event is not None:
                events.append(event)
        return events

    def _window_in(self, window: array) -> SpeechStarted | SpeechStopped | None:
        loud = rms(window) >= self.level
        start_ms = self._position_ms
        self._position_ms += WINDOW_MS
        if self._turn is None:
            if not loud:
                if self.prefix_padding_ms > 0:
                    self._prefix.append(window)
                return None
            padding = list(self._prefix) if self.prefix_padding_ms > 0 else []
            self._prefix.clear()
            self._turn = padding + [window]
            self._turn_start_ms = max(0, start_ms - WINDOW_MS * len(padding))
            self._silent_ms = 0
            return SpeechStarted(audio_start_ms=self._turn_start_ms)
        self._turn.append(window)
        self._silent_ms = 0 if loud else self._silent_ms + WINDOW_MS
        too_long = self._position_ms - self._turn_start_ms >= self.max_turn_ms
        if self._silent_ms >= self.silence_duration_ms or too_long:
            pcm = b"".join(w.tobytes() for w in self._turn)
            self._turn = None
            return SpeechStopped(
                audio_start_ms=self._turn_start_ms,
                audio_end_ms=self._position_ms,
                pcm=pcm,
                sample_rate=self.sample_rate,
            )
        return None

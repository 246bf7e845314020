"""Energy VAD: threshold mapping, padding, silence duration, chunking."""

from __future__ import annotations

import math
from array import array

from hypothesis import given, settings
from hypothesis import strategies as st

from standin.vad import EnergyVAD, SpeechStarted, SpeechStopped, threshold_to_rms

RATE = 16000


def silence(ms: int) -> bytes:
    return bytes(RATE * ms // 1000 * 2)


def tone(ms: int, amplitude: int = 4000) -> bytes:
    count = RATE * ms // 1000
    return array("h", (int(amplitude * math.sin(2 * math.pi * 200 * i / RATE)) for i in range(count))).tobytes()


def test_threshold_maps_to_an_rms_level_on_a_log_scale():
    assert round(threshold_to_rms(0.0)) == 33
    assert round(threshold_to_rms(0.5)) == 583
    assert round(threshold_to_rms(1.0)) == 10362
    levels = [threshold_to_rms(t / 10) for t in range(11)]
    assert levels == sorted(levels)


def test_silence_is_not_speech():
    assert EnergyVAD().feed(silence(3000)) == []


def test_a_turn_starts_early_by_the_padding_and_ends_after_the_silence():
    vad = EnergyVAD(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500)

    events = vad.feed(silence(1000) + tone(800) + silence(1000))

    started, stopped = events
    assert started == SpeechStarted(audio_start_ms=700)
    assert isinstance(stopped, SpeechStopped)
    assert (stopped.audio_start_ms, stopped.audio_end_ms) == (700, 2300)
    assert len(stopped.pcm) == 2 * RATE * 1600 // 1000
    assert stopped.duration_s == 1.6


def test_a_pause_shorter_than_the_silence_duration_keeps_one_turn():
    vad = EnergyVAD(silence_duration_ms=500)

    events = vad.feed(tone(400) + silence(300) + tone(400) + silence(600))

    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped]


def test_a_high_threshold_ignores_quiet_speech():
    quiet = tone(500, amplitude=1000)  # RMS about 700

    assert EnergyVAD(threshold=0.5).feed(quiet + silence(600)) != []
    assert EnergyVAD(threshold=0.8).feed(quiet + silence(600)) == []


def test_an_endless_turn_is_cut():
    vad = EnergyVAD(max_turn_ms=1000)

    events = vad.feed(tone(2500))

    assert [type(e) for e in events] == [SpeechStarted, SpeechStopped] * 2 + [SpeechStarted]
    assert all(e.audio_end_ms - e.audio_start_ms == 1000 for e in events if isinstance(e, SpeechStopped))


def test_semantic_vad_eagerness_picks_the_silence_duration():
    assert EnergyVAD.from_turn_detection({"type": "semantic_vad", "eagerness": "high"}).silence_duration_ms == 300
    assert EnergyVAD.from_turn_detection({"type": "semantic_vad", "eagerness": "low"}).silence_duration_ms == 1500


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=2000), min_size=1, max_size=30))
def test_how_the_audio_is_chunked_does_not_matter(cuts):
    audio = silence(400) + tone(600) + silence(700) + tone(300) + silence(600)
    expected = EnergyVAD().feed(audio)
    vad = EnergyVAD()
    events = []
    position = 0
    for cut in cuts:
        events += vad.feed(audio[position : position + cut * 2])
        position += cut * 2
    events += vad.feed(audio[position:])

    assert events == expected

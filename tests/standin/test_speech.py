"""The tutor's voice: espeak-ng or a tone, at 48 kHz, and the output buffer's started/stopped."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from standin import speech
from standin.speech import FRAME_BYTES, AudioOutput, resample, synthesize, tone, wav_pcm
from standin.vad import rms
from array import array


def loudness(pcm: bytes) -> float:
    return rms(array("h", pcm))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
async def test_espeak_ng_speaks_at_48_khz():
    pcm = await synthesize("Hello! Please use the word gato in a sentence.", voice="marin")

    seconds = len(pcm) / 2 / 48000
    assert 1.5 < seconds < 6
    assert loudness(pcm) > 500


async def test_without_espeak_ng_it_plays_a_tone_as_long_as_the_sentence(monkeypatch):
    monkeypatch.setattr(speech.shutil, "which", lambda name: None)
    text = "Hello! Please use the word gato in a sentence."

    pcm = await synthesize(text, voice="alloy")

    assert len(pcm) / 2 / 48000 == pytest.approx(len(text) * speech.SECONDS_PER_CHARACTER, abs=0.01)
    assert loudness(pcm) > 1000


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_it_reads_espeak_ng_wav_streams():
    data = subprocess.run(["espeak-ng", "--stdout", "hello"], capture_output=True, check=True).stdout

    pcm, rate = wav_pcm(data)

    assert rate == 22050 and len(pcm) > 10000


def test_resampling_keeps_the_duration():
    one_second = tone(1.0, rate=22050)

    assert len(resample(one_second, 22050, 48000)) / 2 == pytest.approx(48000, rel=0.01)


def test_the_output_buffer_reports_start_and_stop_per_response():
    log = []
    output = AudioOutput(on_started=lambda r: log.append(("started", r)), on_stopped=lambda r: log.append(("stopped", r)))
    output.enqueue("resp_1", b"\x01\x00" * 1500)
    output.enqueue("resp_2", b"\x02\x00" * 960)

    frames = [output.next_frame() for _ in range(4)]

    assert all(len(frame) == FRAME_BYTES for frame in frames)
    assert log == [("started", "resp_1"), ("stopped", "resp_1"), ("started", "resp_2"), ("stopped", "resp_2")]
    assert frames[-1] == bytes(FRAME_BYTES)  # silence once drained
    assert output.playing is None


def test_clearing_the_output_buffer_drops_queued_audio():
    output = AudioOutput()
    output.enqueue("resp_1", b"\x01\x00" * 48000)
    output.next_frame()

    assert output.clear() == "resp_1"
    assert output.next_frame() == bytes(FRAME_BYTES)

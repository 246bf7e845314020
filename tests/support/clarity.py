"""Measuring the clarity threshold on the stand-in's espeak-ng recordings.

Each focus word is synthesised with espeak-ng, alone and in a carrier phrase ("the word is
gato"), in four English voices: once clearly (normal speed) and three ways unclearly (very fast,
with white noise mixed in by sox, muffled by a sox low-pass). The stand-in's recogniser
(``standin.transcribe``) transcribes each one with the session's focus words; its word
posteriors become the Realtime API's logprobs (``standin.call.transcript_logprobs``) and the word's
confidence is read back from them as the server reads it (``tutor.clarity.term_confidence``).

Run it from the repository root::

    .venv/bin/python -m tests.support.clarity

It prints, for several thresholds, how many clear recordings were called clear and how many
unclear ones unclear (of those whose word was recognised at all: a recording whose word is not
recognised gives no evidence, so it is counted apart). docs/ratings.md has the figures and the
threshold chosen from them; tests/standin/test_clarity_threshold.py keeps a small fixed set of
these recordings on the right side of it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

WORDS = ["gato", "perro", "casa", "agua", "libro", "mesa"]
VOICES = ["en-us", "en", "en-us+m3", "en+f3"]
CARRIERS = ["", "the word is "]
CONDITIONS = {
    # name: (clear?, espeak-ng words per minute, sox effects after conversion, noise amplitude)
    "clear": (True, 175, [], 0.0),
    "very fast": (False, 330, [], 0.0),
    "noisy": (False, 175, [], 0.12),
    "muffled": (False, 175, ["lowpass", "500", "lowpass", "500"], 0.0),
}
THRESHOLDS = [0.5, 0.6, 0.65, 0.7, 0.75, 0.8, 0.9, 0.95, 0.99]
RAW = ["-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed"]


def tools_missing() -> str | None:
    """Why the recordings cannot be made here, or None."""
    missing = [tool for tool in ("espeak-ng", "sox") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not installed" if missing else None


def recording(text: str, *, voice: str, condition: str) -> bytes:
    """16 kHz mono int16 PCM of ``text`` spoken by espeak-ng in ``condition``."""
    _, speed, effects, noise = CONDITIONS[condition]
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "-s", str(speed), "--stdout", text], capture_output=True, check=True
    ).stdout
    pcm = subprocess.run(
        ["sox", "-R", "-t", "wav", "-", *RAW, "-", *effects], input=wav, capture_output=True, check=True
    ).stdout
    if noise:
        seconds = len(pcm) / 32000
        hiss = subprocess.run(
            ["sox", "-R", "-n", *RAW, "-", "synth", f"{seconds:.3f}", "whitenoise", "vol", str(noise)],
            capture_output=True, check=True,
        ).stdout
        pcm = _mix(pcm, hiss)
    return pcm


def _mix(a: bytes, b: bytes) -> bytes:
    from array import array

    left, right = array("h", a), array("h", b[: len(a)])
    right.extend([0] * (len(left) - len(right)))
    return array("h", (max(-32768, min(32767, x + y)) for x, y in zip(left, right))).tobytes()


@dataclass(frozen=True)
class Case:
    word: str
    voice: str
    carrier: str
    condition: str

    @property
    def clear(self) -> bool:
        return CONDITIONS[self.condition][0]

    @property
    def text(self) -> str:
        return self.carrier + self.word


def confidence(case: Case, words: list[str] = WORDS) -> float | None:
    """The focus word's confidence as the server computes it, or None when the stand-in did not
    recognise that word.

    Each recording gets a recogniser of its own, as a new call's first turn does: pocketsphinx
    adapts to the audio it has decoded (its cepstral mean and noise estimate), so one shared
    recogniser would make each figure depend on the recordings before it."""
    from standin.call import transcript_logprobs
    from standin.transcribe import Transcriber
    from tutor.clarity import term_confidence

    pcm = recording(case.text, voice=case.voice, condition=case.condition)
    recognition = Transcriber().transcribe_scored(pcm, words)
    return term_confidence(transcript_logprobs(recognition.word_logprobs), case.word)


def cases() -> list[Case]:
    return [
        Case(word, voice, carrier, condition)
        for condition in CONDITIONS
        for word in WORDS
        for voice in VOICES
        for carrier in CARRIERS
    ]


def measure(out=sys.stdout, *, each: bool = False) -> dict[Case, float | None]:
    results = {case: confidence(case) for case in cases()}
    recognised = {case: value for case, value in results.items() if value is not None}
    if each:
        for case, value in results.items():
            shown = "not recognised" if value is None else f"{value:.3f}"
            print(f"{case.condition:>10} | {case.voice:>9} | {case.text!r:<22} | {shown}", file=out)
    print("# Clarity calls on the stand-in's espeak-ng recordings", file=out)
    print(f"words: {', '.join(WORDS)}; voices: {', '.join(VOICES)}; alone and as 'the word is …'", file=out)
    for condition in CONDITIONS:
        mine = [case for case in results if case.condition == condition]
        got = sorted(recognised[case] for case in mine if case in recognised)
        middle = got[len(got) // 2] if got else float("nan")
        print(
            f"{condition:>10}: {len(got)}/{len(mine)} recognised, median confidence {middle:.3f}",
            file=out,
        )
    clear = [case for case in recognised if case.clear]
    unclear = [case for case in recognised if not case.clear]
    print(f"\nthreshold | clear called clear ({len(clear)}) | unclear called unclear ({len(unclear)}) | right", file=out)
    for threshold in THRESHOLDS:
        right_clear = sum(recognised[case] >= threshold for case in clear)
        right_unclear = sum(recognised[case] < threshold for case in unclear)
        total = len(clear) + len(unclear)
        print(
            f"{threshold:>9} | {right_clear:>3} ({right_clear / len(clear):.0%}) | "
            f"{right_unclear:>3} ({right_unclear / len(unclear):.0%}) | "
            f"{right_clear + right_unclear}/{total} ({(right_clear + right_unclear) / total:.0%})",
            file=out,
        )
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--each", action="store_true", help="also print every recording's confidence")
    arguments = parser.parse_args()
    if reason := tools_missing():
        print(f"cannot measure: {reason}", file=sys.stderr)
        return 2
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    measure(each=arguments.each)
    return 0


if __name__ == "__main__":
    sys.exit(main())

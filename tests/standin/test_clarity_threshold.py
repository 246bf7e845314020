"""The clarity threshold separates the stand-in's clear and unclear espeak-ng recordings.

The threshold (``TUTOR_CLARITY_THRESHOLD``) was chosen from the measurement of
``tests.support.clarity`` (docs/ratings.md). These are a few of its recordings, from either side
and well away from the threshold: each goes through the whole chain (espeak-ng and sox,
pocketsphinx's word posteriors, the Realtime API's logprobs shape, the server's confidence
maths and threshold).
"""

from __future__ import annotations

import pytest

from tests.support.clarity import WORDS, Case, confidence, tools_missing
from tutor.clarity import is_clear

pytestmark = pytest.mark.skipif(tools_missing() is not None, reason=tools_missing() or "")

CLEAR = [
    Case("perro", "en-us", "the word is ", "clear"),
    Case("gato", "en-us", "", "clear"),
    Case("libro", "en-us+m3", "", "clear"),
]
UNCLEAR = [
    Case("agua", "en+f3", "the word is ", "noisy"),
    Case("perro", "en", "the word is ", "noisy"),
    Case("casa", "en-us", "the word is ", "very fast"),
    Case("agua", "en-us+m3", "", "very fast"),
]


@pytest.mark.parametrize("case", CLEAR + UNCLEAR, ids=lambda case: f"{case.condition}:{case.voice}:{case.text}")
def test_the_threshold_calls_each_recording_right(case):
    value = confidence(case, WORDS)
    assert value is not None, "the stand-in no longer recognises this recording's word"
    assert is_clear(value) is case.clear, f"confidence {value:.3f}"


def test_a_word_the_recogniser_did_not_hear_has_no_confidence():
    assert confidence(Case("gato", "en-us", "", "clear"), ["perro", "casa"]) is None

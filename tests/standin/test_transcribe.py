"""pocketsphinx with a focus-word grammar: pronunciations, and how well it recognises espeak-ng speech.

The measurement test prints its figures; ``standin/README.md`` quotes them.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import time
from array import array

import pytest

from standin.transcribe import Recognition, Transcriber, espeak_phones, grammar, letter_phones, token

TERMS = ["gato", "perro", "casa", "agua", "libro"]
SENTENCES = [
    "the word is gato",
    "i like the perro",
    "casa",
    "this is my libro",
    "i have a gato",
    "how do you say agua",
    "i said perro",
    "i see the casa",
    "agua please",
    "i want the libro",
    "this is the casa",
    "i like my perro",
    "gato",
    "perro",
    "libro",
    "agua",
]
VOICES = ["en-us", "en", "en-us+m3", "en+f3"]

needs_speech_tools = pytest.mark.skipif(
    shutil.which("espeak-ng") is None or shutil.which("sox") is None, reason="espeak-ng and sox not installed"
)


def speak(text: str, voice: str = "en-us") -> bytes:
    wav = subprocess.run(["espeak-ng", "-v", voice, "--stdout", text], capture_output=True, check=True).stdout
    return subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", "16000", "-c", "1", "-b", "16", "-e", "signed", "-"],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout


@pytest.fixture(scope="module")
def transcriber():
    return Transcriber()


def test_tokens_are_plain_lower_case_letters():
    assert token("Niño") == "nino"
    assert token("¿Qué?") == "que"


def test_the_grammar_lists_each_term_with_carrier_phrases():
    jsgf, originals = grammar(["gato", "casa grande", "Niño", "gato"])

    assert "<term> = gato | casa grande | nino;" in jsgf
    assert "the word is" in jsgf
    assert originals == {"gato": "gato", "casa grande": "casa grande", "nino": "Niño"}


def test_letter_rules_give_arpabet():
    assert letter_phones("gato") == "G AA T OW"
    assert letter_phones("chico") == "CH IY K OW"


@needs_speech_tools
def test_espeak_phonemes_become_arpabet():
    assert espeak_phones("gato") == "G AA T OW"
    assert espeak_phones("libro") == "L AY B R OW"


@needs_speech_tools
def test_it_writes_the_learners_spelling_back(transcriber):
    assert transcriber.transcribe(speak("the word is nino"), ["niño", "gato"]) == "the word is niño"


def test_nothing_expected_or_nothing_heard_gives_empty_text(transcriber):
    assert transcriber.transcribe(b"", TERMS) == ""
    assert transcriber.transcribe(bytes(32000), []) == ""


def test_silence_and_a_tone_give_empty_text(transcriber):
    tone = array("h", (int(8000 * math.sin(2 * math.pi * 440 * i / 16000)) for i in range(16000))).tobytes()

    assert transcriber.transcribe(bytes(32000), TERMS) == ""
    assert transcriber.transcribe(tone, TERMS) == ""


@needs_speech_tools
def test_speech_outside_the_grammar_gives_empty_text(transcriber):
    assert transcriber.transcribe(speak("the weather is nice today"), TERMS) == ""


@needs_speech_tools
def test_recognition_of_espeak_speech_is_good_enough(transcriber):
    word_right = exact = wrong_word = 0
    slowest = 0.0
    total = 0
    for voice in VOICES:
        for sentence in SENTENCES:
            audio = speak(sentence, voice)
            started = time.perf_counter()
            heard = transcriber.transcribe(audio, TERMS)
            slowest = max(slowest, time.perf_counter() - started)
            total += 1
            said = next(term for term in TERMS if term in sentence.split())
            heard_terms = [term for term in TERMS if term in heard.split()]
            exact += heard == sentence
            word_right += heard_terms == [said]
            wrong_word += bool(heard_terms) and heard_terms != [said]
    print(
        f"\npocketsphinx on {total} espeak-ng utterances: focus word right {word_right}, "
        f"sentence exact {exact}, wrong word {wrong_word}, slowest {slowest * 1000:.0f} ms"
    )

    assert word_right / total >= 0.75
    assert wrong_word / total <= 0.05
    assert slowest < 1.0


@needs_speech_tools
def test_each_transcribed_word_comes_with_its_log_posterior(transcriber):
    recognition = transcriber.transcribe_scored(speak("the word is nino"), ["gato", "Niño"])

    assert recognition.text == "the word is Niño"
    assert [word for word, _ in recognition.word_logprobs] == ["the", "word", "is", "Niño"]
    assert all(-14 < logprob <= 0 for _, logprob in recognition.word_logprobs)
    assert transcriber.transcribe(speak("the word is nino"), ["gato", "Niño"]) == recognition.text


def test_nothing_recognised_has_no_words(transcriber):
    assert transcriber.transcribe_scored(bytes(32000), ["gato"]) == Recognition("")

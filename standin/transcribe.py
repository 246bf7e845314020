"""Offline transcription of the learner's turns: pocketsphinx constrained by a JSGF grammar.

Free dictation with the en-US model shipped in the pocketsphinx wheel is poor, so the recogniser
only chooses among sentences the session expects: each focus word of the instructions, alone or
inside a few carrier phrases ("the word is gato", "I like the gato"). Words missing from the
CMU dictionary get a pronunciation from espeak-ng's English phonemes (``espeak-ng -x``) mapped to
ARPAbet, or from simple letter rules when espeak-ng is missing. When nothing in the grammar fits,
the result is ``""`` and the call reports an honest placeholder such as ``[speech 1.4 s]``.

How good it is (``tests/standin/test_transcribe.py`` measures it on every run): on 64 utterances
of espeak-ng (16 sentences from "gato" alone to "how do you say agua", in 4 English voices, fed as
16 kHz PCM), the focus word was right in 53 (83 %), the whole sentence exact in 50 (78 %), a wrong
focus word in 1, and nothing in the other 10; each took 10-80 ms. Silence, a tone and an unrelated
sentence ("the weather is nice today") gave "". Through Chromium's fake microphone, Opus and the
VAD, "the word is gato" comes out exact. Carrier phrases get confused with each other ("i have a
gato" -> "i like the gato"), and a word whose reading differs between voices ("perro") is the one
most often missed. Real voices, accents and noise will do worse, and words outside the grammar are
never transcribed: a learner saying something else gets the placeholder or, at worst, the closest
expected sentence. It is a test aid, not a speech recogniser.

Each word of a transcript comes with pocketsphinx's own confidence in it: the word's posterior
probability in the decoder's lattice (``Decoder.seg()``, ``prob``, with ``POSTERIOR_ASCALE``), 1.0
when no other path of the grammar competed for that stretch of audio. ``transcribe_scored``
returns them, and the call reports them as the Realtime API's transcription ``logprobs`` (one
token per word, its natural log).
"""

from __future__ import annotations

import functools
import math
import re
import shutil
import subprocess
import threading
import unicodedata
from array import array
from collections import OrderedDict
from dataclasses import dataclass, field

from pocketsphinx import Decoder

SAMPLE_RATE = 16000
CARRIERS = (
    "the word is",
    "i said",
    "i like the",
    "i like my",
    "i have a",
    "this is my",
    "this is the",
    "how do you say",
    "i want the",
    "i see the",
)
TAILS = ("please",)

# espeak-ng English phoneme mnemonics -> ARPAbet, longest first.
ESPEAK_TO_ARPABET = {
    "aI@": "AY ER",
    "aI3": "AY ER",
    "aU@": "AW ER",
    "i@3": "IY ER",
    "aI": "AY",
    "aU": "AW",
    "eI": "EY",
    "oU": "OW",
    "OI": "OY",
    "e@": "EH R",
    "i@": "IY R",
    "U@": "UH R",
    "A@": "AA R",
    "O@": "AO R",
    "o@": "AO R",
    "3:": "ER",
    "@L": "AH L",
    "@2": "AH",
    "@5": "AH",
    "A:": "AA",
    "O:": "AO",
    "i:": "IY",
    "u:": "UW",
    "I#": "IH",
    "I2": "IH",
    "a#": "AE",
    "tS": "CH",
    "dZ": "JH",
    "r-": "R",
    "3": "ER",
    "@": "AH",
    "a": "AE",
    "A": "AA",
    "e": "EH",
    "E": "EH",
    "i": "IY",
    "I": "IH",
    "0": "AA",
    "O": "AO",
    "o": "OW",
    "u": "UW",
    "U": "UH",
    "V": "AH",
    "T": "TH",
    "D": "DH",
    "S": "SH",
    "Z": "ZH",
    "N": "NG",
    "h": "HH",
    "j": "Y",
    "r": "R",
    "l": "L",
    "w": "W",
    "x": "K",
    "?": "T",
    "p": "P",
    "b": "B",
    "t": "T",
    "d": "D",
    "k": "K",
    "g": "G",
    "f": "F",
    "v": "V",
    "s": "S",
    "z": "Z",
    "m": "M",
    "n": "N",
}
_ESPEAK_KEYS = sorted(ESPEAK_TO_ARPABET, key=len, reverse=True)

LETTERS_TO_ARPABET = {
    "ch": "CH",
    "sh": "SH",
    "th": "TH",
    "qu": "K",
    "ll": "Y",
    "rr": "R",
    "ph": "F",
    "a": "AA",
    "b": "B",
    "c": "K",
    "d": "D",
    "e": "EH",
    "f": "F",
    "g": "G",
    "h": "HH",
    "i": "IY",
    "j": "HH",
    "k": "K",
    "l": "L",
    "m": "M",
    "n": "N",
    "o": "OW",
    "p": "P",
    "q": "K",
    "r": "R",
    "s": "S",
    "t": "T",
    "u": "UW",
    "v": "V",
    "w": "W",
    "x": "K S",
    "y": "Y",
    "z": "Z",
}
_LETTER_KEYS = sorted(LETTERS_TO_ARPABET, key=len, reverse=True)


def token(word: str) -> str:
    """A dictionary-safe token for one word: lower case, no accents, letters and apostrophes."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z']", "", plain)


def _greedy(text: str, table: dict[str, str], keys: list[str]) -> str:
    phones: list[str] = []
    position = 0
    while position < len(text):
        for key in keys:
            if text.startswith(key, position):
                phones.append(table[key])
                position += len(key)
                break
        else:
            position += 1  # stress marks, syllable breaks and anything unknown
    return " ".join(phones)


@functools.lru_cache(maxsize=512)
def espeak_phones(word: str, voice: str = "en-us") -> str | None:
    """ARPAbet for ``word`` from espeak-ng's English phonemes, or None without espeak-ng."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        return None
    try:
        result = subprocess.run(
            [binary, "-q", "-x", "-v", voice, word], capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    phones = _greedy(result.stdout.strip(), ESPEAK_TO_ARPABET, _ESPEAK_KEYS)
    return phones or None


def letter_phones(word: str) -> str:
    phones = _greedy(token(word), LETTERS_TO_ARPABET, _LETTER_KEYS)
    return phones or "AH"


def grammar(terms: list[str]) -> tuple[str, dict[str, str]]:
    """The JSGF grammar for ``terms`` and a map from its token sentences back to the terms."""
    alternatives: list[str] = []
    originals: dict[str, str] = {}
    for term in terms:
        tokens = " ".join(t for t in (token(w) for w in term.split()) if t)
        if tokens and tokens not in originals:
            originals[tokens] = term
            alternatives.append(tokens)
    if not alternatives:
        return "", {}
    carriers = " | ".join(CARRIERS)
    tails = " | ".join(TAILS)
    jsgf = (
        "#JSGF V1.0;\n"
        "grammar parlance;\n"
        f"public <utterance> = [<carrier>] <term> [<tail>];\n"
        f"<carrier> = {carriers};\n"
        f"<tail> = {tails};\n"
        f"<term> = {' | '.join(alternatives)};\n"
    )
    return jsgf, originals


@dataclass(frozen=True)
class Recognition:
    """A transcript and, for each of its words in order, the log of pocketsphinx's posterior."""

    text: str
    word_logprobs: list[tuple[str, float]] = field(default_factory=list)


NOTHING = Recognition("")
MIN_POSTERIOR = 1e-6  # a posterior of 0 (it underflowed) is reported as this
# The acoustic scale of the posteriors (pocketsphinx's -ascale, 20 by default; recognition does
# not use it). At 40 the posteriors are flatter, so a word that other words of the grammar
# nearly matched gets a visibly lower confidence: docs/ratings.md has the measurement.
POSTERIOR_ASCALE = 40.0


# Speech measured 3,500-4,400 RMS on these machines, silence about 0.1 (int16 samples).
MIN_SPEECH_RMS = 100.0


class Transcriber:
    """One pocketsphinx decoder; grammars are cached by their word sets. Thread-safe."""

    def __init__(self, *, max_grammars: int = 32) -> None:
        self._decoder = Decoder(lm=None, samprate=SAMPLE_RATE, logfn="/dev/null", ascale=POSTERIOR_ASCALE)
        self._lock = threading.Lock()
        self._searches: OrderedDict[tuple[str, ...], tuple[str, dict[str, str]]] = OrderedDict()
        self._max = max_grammars
        self._count = 0

    def _pronounce(self, word: str) -> None:
        """Make sure ``word`` is in the dictionary, with espeak-ng's reading as an alternative.

        Focus words are often foreign: the CMU reading of "perro" (P ER R OW) is not what a
        learner (or espeak-ng) says, so the espeak-ng reading is added as ``perro(2)``.
        """
        known = self._decoder.lookup_word(word)
        candidates = [espeak_phones(word, "en-us"), espeak_phones(word, "en"), letter_phones(word)]
        if known is None:
            variants: list[str] = []
        else:
            variants = [known]
            index = 2
            while (alternative := self._decoder.lookup_word(f"{word}({index})")) is not None:
                variants.append(alternative)
                index += 1
        for phones in candidates:
            if phones and phones not in variants:
                name = word if not variants else f"{word}({len(variants) + 1})"
                self._decoder.add_word(name, phones, True)
                variants.append(phones)

    def _search_for(self, terms: tuple[str, ...]) -> tuple[str, dict[str, str]] | None:
        if terms in self._searches:
            self._searches.move_to_end(terms)
            return self._searches[terms]
        jsgf, originals = grammar(list(terms))
        if not jsgf:
            return None
        for sentence in originals:
            for word in sentence.split():
                self._pronounce(word)
        self._count += 1
        name = f"g{self._count}"
        self._decoder.add_jsgf_string(name, jsgf)
        self._searches[terms] = (name, originals)
        if len(self._searches) > self._max:
            old_name, _ = self._searches.popitem(last=False)[1]
            self._decoder.remove_search(old_name)
        return self._searches[terms]

    def transcribe(self, pcm: bytes, terms: list[str]) -> str:
        """Text of 16 kHz mono int16 ``pcm`` as one of the expected sentences, or ``""``."""
        return self.transcribe_scored(pcm, terms).text

    def transcribe_scored(self, pcm: bytes, terms: list[str]) -> Recognition:
        """``transcribe`` with each word's log posterior (``NOTHING`` when nothing fits)."""
        if not pcm or not terms or _rms(pcm) < MIN_SPEECH_RMS:
            # Near-silence holds no speech; the decoder can still force a grammar path on it.
            return NOTHING
        with self._lock:
            search = self._search_for(tuple(terms))
            if search is None:
                return NOTHING
            name, originals = search
            self._decoder.activate_search(name)
            self._decoder.start_utt()
            self._decoder.process_raw(pcm, False, True)
            self._decoder.end_utt()
            hypothesis = self._decoder.hyp()
            posteriors = [
                min(max(segment.prob, MIN_POSTERIOR), 1.0)
                for segment in (self._decoder.seg() if hypothesis is not None else [])
                if not segment.word.startswith(("<", "["))  # <s>, <sil>, </s>, [NOISE]
            ]
        if hypothesis is None or not hypothesis.hypstr.strip():
            return NOTHING
        spoken = re.sub(r"\(\d+\)", "", hypothesis.hypstr).split()
        text = " ".join(spoken)
        # Put the learner's own spelling of the term back ("nino" -> "niño"). A hypothesis
        # without a term is a partial path through the grammar: nothing was recognised.
        for tokens in sorted(originals, key=len, reverse=True):
            pattern = r"(?<![a-z'])" + re.escape(tokens) + r"(?![a-z'])"
            if re.search(pattern, text):
                text = re.sub(pattern, originals[tokens], text, count=1)
                return Recognition(text, _word_logprobs(text, spoken, posteriors))
        return NOTHING


def _word_logprobs(text: str, spoken: list[str], posteriors: list[float]) -> list[tuple[str, float]]:
    """The transcript's words, each with the log posterior of the word the decoder heard there.

    The transcript has the decoder's words with the term's spelling put back, word for word;
    should the counts differ, every word gets the least sure word's posterior."""
    words = text.split()
    if len(posteriors) == len(spoken) == len(words):
        return [(word, math.log(p)) for word, p in zip(words, posteriors)]
    least = math.log(min(posteriors, default=MIN_POSTERIOR))
    return [(word, least) for word in words]


def _rms(pcm: bytes) -> float:
    samples = array("h", pcm[: len(pcm) - len(pcm) % 2])
    if not samples:
        return 0.0
    return math.sqrt(sum(s * s for s in samples) / len(samples))


_shared: Transcriber | None = None
_shared_lock = threading.Lock()


def transcriber() -> Transcriber:
    """The process-wide transcriber (built on first use)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Transcriber()
        return _shared

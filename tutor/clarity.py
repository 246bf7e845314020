"""How clearly a learner said a word: a confidence from the transcription's log-probabilities.

The Realtime API reports, with ``include: ["item.input_audio_transcription.logprobs"]``, each
token of a learner's transcript as ``{"token", "logprob", "bytes"}``; the tokens joined are the
transcript. A word's confidence is the probability of all the tokens that make it up:
``exp(sum of their logprobs)``. Words are found by ``common.text.text_fold``, so "¡Pájaro!" in
the transcript is the focus word ``pájaro``. A word is *clear* when its confidence reaches
``TUTOR_CLARITY_THRESHOLD`` (docs/ratings.md says how the default was measured).

Only what the server saw on the call counts: ``session_term_clear`` reads the logprobs the
sideband stored on a verified item, never a copy the page sent. Anything missing, malformed or
too large gives ``None`` (clarity unknown), which rates as if clarity did not exist.
"""

from __future__ import annotations

import math
import re
from typing import Any

from django.conf import settings

from common.text import storable, text_fold

MAX_TOKENS = 2_000  # a turn's transcript is far shorter; more is not a transcript we trust
MAX_TOKEN_CHARS = 256
MAX_TRANSCRIPTS = 20  # how many of the session's latest learner turns are searched
_WORD = re.compile(r"\S+")


def logprobs_clean(value: Any) -> list[dict[str, Any]] | None:
    """``value`` as a list of ``{"token": str, "logprob": float}``, or None when it is not a
    well-formed logprobs list (not a list, too long, a bad entry, NUL, a non-finite or
    positive logprob)."""
    if not isinstance(value, list) or not value or len(value) > MAX_TOKENS:
        return None
    cleaned = []
    for entry in value:
        if not isinstance(entry, dict):
            return None
        token, logprob = entry.get("token"), entry.get("logprob")
        if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS or not storable(token):
            return None
        if isinstance(logprob, bool) or not isinstance(logprob, (int, float)):
            return None
        logprob = float(logprob)
        if not math.isfinite(logprob) or logprob > 0:
            return None
        cleaned.append({"token": token, "logprob": logprob})
    return cleaned


def word_confidences(logprobs: Any) -> list[tuple[str, float]] | None:
    """Each word of the transcript the tokens spell, folded, with its confidence (0..1): the
    product of the probabilities of the tokens that overlap it. None for malformed input."""
    tokens = logprobs_clean(logprobs)
    if tokens is None:
        return None
    text, spans, position = "", [], 0
    for token in tokens:
        spans.append((position, position + len(token["token"]), token["logprob"]))
        text += token["token"]
        position += len(token["token"])
    words = []
    for match in _WORD.finditer(text):
        folded = text_fold(match.group())
        if not folded:
            continue  # punctuation alone is not a word
        start, end = match.span()
        total = sum(logprob for left, right, logprob in spans if left < end and right > start)
        words.append((folded, math.exp(total)))
    return words


def term_confidence(logprobs: Any, term: str) -> float | None:
    """The confidence of ``term`` (one or more words) in the transcript, or None when the
    transcript does not contain it or the logprobs are malformed. A term said twice counts
    by its clearest saying; a term of several words by its least clear word."""
    words = word_confidences(logprobs)
    wanted = text_fold(term).split()
    if not words or not wanted:
        return None
    best = None
    for start in range(len(words) - len(wanted) + 1):
        window = words[start : start + len(wanted)]
        if [word for word, _ in window] == wanted:
            confidence = min(value for _, value in window)
            best = confidence if best is None else max(best, confidence)
    return best


def is_clear(confidence: float | None, threshold: float | None = None) -> bool | None:
    """Whether a confidence counts as clear (None stays unknown)."""
    if confidence is None:
        return None
    limit = settings.TUTOR_CLARITY_THRESHOLD if threshold is None else threshold
    return confidence >= limit


def session_term_clear(*, session, term: str) -> bool | None:
    """How clearly ``term`` was said in ``session``'s latest learner turn that contains it,
    judged from logprobs the server saw on the call itself (verified items); None when no
    such turn carries logprobs."""
    if session is None:
        return None
    from tutor.models import ConversationItem

    items = (
        ConversationItem.objects.filter(session=session, role="user", verified=True)
        .order_by("-created_at", "-pk")
        .values_list("raw", flat=True)[:MAX_TRANSCRIPTS]
    )
    for raw in items:
        logprobs = raw.get("logprobs") if isinstance(raw, dict) else None
        confidence = term_confidence(logprobs, term)
        if confidence is not None:
            return is_clear(confidence)
    return None

"""Text rules shared by the whole project: one way to fold words for comparison, one check
that a string can be stored.

``text_fold`` is THE rule for "the same word": the CSV import's duplicate check, the tools'
word look-up, the oral quiz, the recap and the written test all compare folded text, so
``papa`` and ``Papá`` are one word everywhere. ``text_normalise`` is the same without the
trimming of punctuation, for searching inside longer text. ``text_clean`` only tidies a
string for storing (Unicode NFC, single spaces); it keeps case and accents.
"""

from __future__ import annotations

import unicodedata

__all__ = ["storable", "text_clean", "text_fold", "text_normalise"]


def _is_latin(char: str) -> bool:
    return unicodedata.name(char, "").startswith("LATIN")


def text_clean(text: str) -> str:
    """``text`` in Unicode NFC with runs of white space made one space and the ends trimmed."""
    return unicodedata.normalize("NFC", " ".join(str(text).split()))


def text_normalise(text: str) -> str:
    """``text`` with case, compatibility forms and accents on Latin letters ignored, and
    spaces collapsed ("Ｐａｐá" -> "papa").

    Marks on other scripts are kept: they change the word (Japanese が is not か).
    """
    kept: list[str] = []
    for char in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(char) and kept and _is_latin(kept[-1]):
            continue
        kept.append(char)
    return " ".join(unicodedata.normalize("NFC", "".join(kept)).casefold().split())


def text_fold(text: str) -> str:
    """``text`` as compared: ``text_normalise`` and trimmed of punctuation and symbols at both
    ends ("¡Él  Pájaro!" -> "el pajaro")."""
    folded = text_normalise(text)
    start, end = 0, len(folded)
    while start < end and not folded[start].isalnum():
        start += 1
    while end > start and not folded[end - 1].isalnum():
        end -= 1
    return folded[start:end]


def storable(text: str) -> bool:
    """Whether every database we run on can store ``text``: PostgreSQL stores neither NUL
    characters nor lone surrogates (``"\\ud800"`` in JSON)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True

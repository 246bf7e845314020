"""The recap of a voice session: what was practised, missed and not reached, the quiz
score, and what comes up next.

Words practised come from two places: the tutor's and examiner's recordings (the
session's ``Review`` rows with source ``voice``, scheduled or kept as history) and the
learner's own saved turns, where each of the session's focus words is looked for as a
whole word, ignoring case and accents (``text_fold``, the written test's rule). Missed:
words attempted whose last recording in the session was incorrect. Not reached: focus
words that never came up either way. Next up: the learner's practised words by when each
is due, soonest first. Speaking time is the learner's measured speech
(``TutorSession.speaking_seconds``), separate from the session's length.

Each practised word says whether it was said clearly (``Review.clear``, from the
transcription's confidence, ``tutor.clarity``): the clarity of the recording that moved its
schedule, or else of the first later one that knew it. A quiz answer on a word the tutor had
already recorded in the session counts for the quiz's grade but does not move the schedule,
and the recap says so (``quiz_unscheduled``).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass

from common.text import text_fold, text_normalise
from tutor import srs
from tutor.models import ConversationItem, OralQuiz, Review, TutorSession, Word, WordProgress

NEXT_UP_LIMIT = 8


@dataclass(frozen=True)
class RecapWord:
    term: str
    meaning: str = ""
    outcome: str = ""  # the last outcome recorded in the session, if any
    heard: bool = False  # the learner said it in a saved turn
    attempts: int = 0  # recordings in the session (only the first moved the schedule)
    clear: bool | None = None  # said clearly / unclearly; None when unknown
    quiz_unscheduled: bool = False  # a quiz answer, graded, that did not move the schedule

    @property
    def clarity(self) -> str:
        """"clear", "unclear" or "" (unknown), for the page."""
        return "" if self.clear is None else ("clear" if self.clear else "unclear")


@dataclass(frozen=True)
class NextUp:
    term: str
    meaning: str
    due_at: dt.datetime
    when: str  # "now", "in 10 min", "in 4 d"


@dataclass(frozen=True)
class QuizScore:
    score: int
    max_score: int


@dataclass(frozen=True)
class Recap:
    practised: list[RecapWord]
    missed: list[RecapWord]
    not_reached: list[RecapWord]
    next_up: list[NextUp]
    quizzes: list[QuizScore]
    focus_words: list[str]
    minutes: float | None
    in_progress: bool
    speaking_minutes: float | None = None  # None: not measured

    @property
    def is_empty(self) -> bool:
        return not (self.practised or self.missed or self.not_reached or self.focus_words)


def _unspaced(term: str) -> bool:
    """Scripts written without spaces, where a word can't be told apart by its boundaries."""
    return any(
        unicodedata.name(char, "").startswith(("CJK", "HIRAGANA", "KATAKANA", "THAI")) for char in term
    )


def said_in(term: str, text: str) -> bool:
    """Whether ``term`` is in ``text`` as a whole word (or phrase), ignoring case and accents."""
    folded_term = text_fold(term)
    if not folded_term:
        return False
    folded_text = text_normalise(text)
    if _unspaced(folded_term):
        return folded_term in folded_text
    return re.search(rf"(?<!\w){re.escape(folded_term)}(?!\w)", folded_text) is not None


def _focus_terms(session: TutorSession) -> list[str]:
    terms: list[str] = []
    seen: set[str] = set()
    for term in session.focus_words if isinstance(session.focus_words, list) else []:
        if isinstance(term, str) and text_fold(term) and text_fold(term) not in seen:
            seen.add(text_fold(term))
            terms.append(term.strip())
    return terms


def _minutes(session: TutorSession, now: dt.datetime) -> tuple[float | None, bool]:
    if session.duration_minutes is not None:
        return session.duration_minutes, False
    if session.connected_at and session.status == TutorSession.Status.LIVE:
        return round(max(0.0, (now - session.connected_at).total_seconds()) / 60, 1), True
    return None, False


def session_recap(*, session: TutorSession, now: dt.datetime) -> Recap:
    """The recap of one session of ``session.learner`` (four queries)."""
    learner = session.learner
    focus = _focus_terms(session)
    words: dict[str, Word] = {}
    assigned = Word.objects.filter(word_list__assignments__learner=learner)
    for word in assigned.order_by("word_list__name", "position", "pk"):
        words.setdefault(text_fold(word.term), word)

    # The tutor's and examiner's recordings, oldest first, so the last outcome wins.
    recorded: dict[str, tuple[Word, str]] = {}
    attempts: dict[str, int] = defaultdict(int)
    scheduled_clear: dict[str, bool] = {}  # the clarity of the review that moved the schedule
    later_clear: dict[str, bool] = {}  # else the first known one
    first_at: dict[str, dt.datetime] = {}
    reviews = (
        Review.objects.filter(session=session, learner=learner, source=Review.Source.VOICE)
        .select_related("word")
        .order_by("reviewed_at", "pk")
    )
    for review in reviews:
        key = text_fold(review.word.term)
        recorded[key] = (review.word, review.outcome)
        attempts[key] += 1
        first_at.setdefault(key, review.reviewed_at)
        if review.clear is not None:
            (scheduled_clear if review.scheduled else later_clear).setdefault(key, review.clear)

    quizzes_run = list(
        OralQuiz.objects.filter(session=session).order_by("started_at", "pk").values_list(
            "started_at", "answers", "result__score", "result__max_score"
        )
    )
    # Answered in a quiz after the word's first recording: graded, not rescheduled.
    quiz_unscheduled = {
        text_fold(term)
        for started_at, answers, *_ in quizzes_run
        for term in (answers if isinstance(answers, dict) else {})
        if text_fold(term) in first_at and first_at[text_fold(term)] < started_at
    }

    said = " \n ".join(
        ConversationItem.objects.filter(
            session=session, role=ConversationItem.Role.USER, kind=ConversationItem.Kind.MESSAGE
        ).values_list("text", flat=True)
    )
    heard = {text_fold(term) for term in focus if said_in(term, said)}

    def recap_word(key: str, term: str) -> RecapWord:
        word = recorded[key][0] if key in recorded else words.get(key)
        return RecapWord(
            term=word.term if word else term,
            meaning=word.meaning if word else "",
            outcome=recorded[key][1] if key in recorded else "",
            heard=key in heard,
            attempts=attempts.get(key, 0),
            clear=scheduled_clear.get(key, later_clear.get(key)),
            quiz_unscheduled=key in quiz_unscheduled,
        )

    order = [text_fold(term) for term in focus] + [key for key in recorded if key not in heard]
    order = list(dict.fromkeys(order))
    terms = {text_fold(term): term for term in focus}
    practised = [recap_word(key, terms.get(key, key)) for key in order if key in recorded or key in heard]
    missed = [word for word in practised if word.outcome == WordProgress.Result.INCORRECT]
    not_reached = [
        recap_word(key, terms.get(key, key)) for key in order if key not in recorded and key not in heard
    ]

    upcoming = (
        WordProgress.objects.filter(
            learner=learner,
            last_reviewed_at__isnull=False,
            word__word_list__assignments__learner=learner,
        )
        .select_related("word")
        .order_by("due_at", "word_id")[: NEXT_UP_LIMIT * 2]
    )
    next_up: list[NextUp] = []
    taken: set[str] = set()
    for progress in upcoming:
        key = text_fold(progress.word.term)
        if key in taken or len(next_up) == NEXT_UP_LIMIT:
            continue
        taken.add(key)
        wait = progress.due_at - now
        next_up.append(
            NextUp(
                term=progress.word.term,
                meaning=progress.word.meaning,
                due_at=progress.due_at,
                when="now" if wait.total_seconds() <= 0 else f"in {srs.interval_label(wait)}",
            )
        )
    quizzes = [
        QuizScore(score=score, max_score=max_score)
        for _, _, score, max_score in quizzes_run
        if score is not None
    ]
    minutes, in_progress = _minutes(session, now)
    speaking = session.speaking_seconds
    return Recap(
        practised=practised,
        missed=missed,
        not_reached=not_reached,
        next_up=next_up,
        quizzes=quizzes,
        focus_words=focus,
        minutes=minutes,
        in_progress=in_progress,
        speaking_minutes=round(max(0.0, speaking) / 60, 1) if speaking is not None else None,
    )


def practised_counts(*, sessions: list[TutorSession]) -> dict[int, int]:
    """How many words each session practised, counted as its recap counts them (two queries)."""
    ids = [session.pk for session in sessions]
    if not ids:
        return {}
    practised: dict[int, set[str]] = {pk: set() for pk in ids}
    voice = Review.objects.filter(session_id__in=ids, source=Review.Source.VOICE)
    for session_id, term in voice.values_list("session_id", "word__term"):
        practised[session_id].add(text_fold(term))
    said: dict[int, list[str]] = defaultdict(list)
    turns = ConversationItem.objects.filter(
        session_id__in=ids, role=ConversationItem.Role.USER, kind=ConversationItem.Kind.MESSAGE
    ).order_by("session_id", "order", "pk")
    for session_id, text in turns.values_list("session_id", "text"):
        said[session_id].append(text)
    for session in sessions:
        text = " \n ".join(said[session.pk])
        practised[session.pk].update(text_fold(term) for term in _focus_terms(session) if said_in(term, text))
    return {pk: len(keys) for pk, keys in practised.items()}

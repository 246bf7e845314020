"""The oral quiz: the tutor hands off to an examiner, who quizzes a few words by voice.

A handoff is a ``session.update`` the page applies: the examiner's own instructions and
tools, and later the tutor's again. The examiner records each answer with
``record_quiz_answer``; when every word is answered (or ``finish_oral_quiz`` is called)
the grade is stored as a ``TestResult`` with source ``voice`` and the tutor takes over.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from typing import Any

from django.db import IntegrityError, transaction

from common import clock
from common.text import text_fold
from tutor.clarity import session_term_clear
from tutor.models import OralQuiz, Review, TestResult, TutorSession
from tutor.practice import term_practice_record
from tutor.progress import learner_words_by_term, tutor_material
from voice.tools.schemas import EXAMINER_TOOLS, OUTCOMES, TOOL_DEFINITIONS

QUIZ_SIZE = 5

class QuizError(Exception):
    """A quiz call that cannot be carried out; its message goes back to the model."""


def _masked(text: str, term: str) -> str:
    """``text`` with every occurrence of ``term`` (by ``text_fold``, as whole words) as "___"."""
    folded_term = text_fold(term).split()
    if not folded_term:
        return text
    tokens = re.split(r"(\s+)", text)
    words = [(i, token) for i, token in enumerate(tokens) if token.strip()]
    size = len(folded_term)
    for start in range(len(words) - size + 1):
        window = words[start : start + size]
        if [text_fold(token) for _, token in window] == folded_term:
            for offset, (i, _) in enumerate(window):
                tokens[i] = "___" if offset == 0 else ""
    return re.sub(r"\s+", " ", "".join(tokens)).strip()


def quiz_clue(word) -> str:
    """What the examiner says to ask for ``word``: its meaning (or else its example sentence),
    never the word itself."""
    clue = _masked(word.meaning, word.term) or _masked(word.example, word.term)
    return (clue or "this word").replace("|", "/")


def examiner_instructions(*, learner, words: list[str]) -> str:
    target = learner.target_language_name
    native = learner.native_language_name
    clues = []
    for term in words:
        matches = learner_words_by_term(learner=learner, term=term)
        clues.append(quiz_clue(matches[0]) if matches else "this word")
    return "\n".join(
        [
            f"You are the Parlance examiner, giving a short oral {target} vocabulary quiz.",
            f"The learner's level is {learner.cefr_level}; their native language is {native}.",
            "The quiz tests recall: the learner must come up with each word themselves. Never say, "
            "spell, translate into or hint at the word you are asking for before the learner has "
            "answered.",
            "Ask about the focus words one at a time, in order. For each, give its clue from the "
            f"Clues line (its meaning, in {native}) or a short {target} sentence with a gap where "
            f"the word goes, and ask the learner to say the {target} word in a sentence.",
            "Focus words: " + ", ".join(words),
            "Clues: " + " | ".join(clues),
            "After each answer call record_quiz_answer once with the word and the outcome "
            "(correct: right without help; hesitant: right but slow or after a hint; incorrect: "
            "wrong or no answer), then say briefly whether it was right and move to the next "
            "word. Give no other help.",
            "If the learner wants to stop, call finish_oral_quiz.",
        ]
    )


def _handoff_to_examiner(*, learner, quiz: OralQuiz) -> dict[str, Any]:
    return {
        "persona": "examiner",
        "session": {
            "type": "realtime",
            "instructions": examiner_instructions(learner=learner, words=quiz.words),
            "tools": copy.deepcopy(EXAMINER_TOOLS),
            "tool_choice": "auto",
        },
    }


def _handoff_to_tutor(session: TutorSession) -> dict[str, Any]:
    return {
        "persona": "tutor",
        "session": {
            "type": "realtime",
            "instructions": session.instructions,
            "tools": copy.deepcopy(TOOL_DEFINITIONS),
            "tool_choice": "auto",
        },
    }


def quiz_words_choose(*, learner, now: dt.datetime, size: int = QUIZ_SIZE) -> list[str]:
    """Due and weak words first, then new ones, then mastered ones: at most ``size``."""
    material = tutor_material(learner=learner, now=now, limit=size, revision_limit=size)
    words: list[str] = []
    for state in [*material.due, *material.weak, *material.new, *material.revision]:
        term = " ".join(state.word.term.split())
        if term and "," not in term and text_fold(term) not in {text_fold(w) for w in words}:
            words.append(term)
        if len(words) == size:
            break
    return words


@transaction.atomic
def oral_quiz_start(*, learner, session: TutorSession, now: dt.datetime | None = None) -> dict[str, Any]:
    """Open a quiz for the session (or return the open one) and hand off to the examiner."""
    now = now or clock.now()
    quiz = OralQuiz.objects.select_for_update().filter(session=session, finished_at__isnull=True).first()
    if quiz is None:
        words = quiz_words_choose(learner=learner, now=now)
        if not words:
            raise QuizError("the learner has no words to be quizzed on yet")
        try:
            with transaction.atomic():
                quiz = OralQuiz.objects.create(session=session, words=words, started_at=now)
        except IntegrityError:  # a second start raced this one: use the quiz it opened
            quiz = OralQuiz.objects.get(session=session, finished_at__isnull=True)
    return {"quiz_started": True, "words": len(quiz.words), "handoff": _handoff_to_examiner(learner=learner, quiz=quiz)}


def _open_quiz(session: TutorSession) -> OralQuiz:
    quiz = OralQuiz.objects.select_for_update().filter(session=session, finished_at__isnull=True).first()
    if quiz is None:
        raise QuizError("no oral quiz is running; the tutor starts one with start_oral_quiz")
    return quiz


def _finish(*, learner, session: TutorSession, quiz: OralQuiz, now: dt.datetime) -> dict[str, Any]:
    details = [
        {"term": word, "outcome": quiz.answers.get(word, "unanswered"), "correct": quiz.answers.get(word) == "correct"}
        for word in quiz.words
    ]
    score = sum(1 for detail in details if detail["correct"])
    list_ids = {
        word.word_list_id
        for term in quiz.words
        for word in learner_words_by_term(learner=learner, term=term)
    }
    result = TestResult.objects.create(
        learner=learner,
        word_list_id=list_ids.pop() if len(list_ids) == 1 else None,
        taken_at=now,
        score=score,
        max_score=len(quiz.words),
        details=details,
        source=TestResult.Source.VOICE,
    )
    quiz.finished_at = now
    quiz.result = result
    quiz.save(update_fields=["finished_at", "result"])
    return {
        "quiz_finished": True,
        "score": score,
        "max_score": len(quiz.words),
        "handoff": _handoff_to_tutor(session),
    }


@transaction.atomic
def oral_quiz_answer(
    *, learner, session: TutorSession, word: str, outcome: str, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Record one quiz answer; the last answer finishes the quiz and hands back to the tutor."""
    now = now or clock.now()
    if outcome not in OUTCOMES:
        raise QuizError(f"outcome must be one of {', '.join(OUTCOMES)}")
    quiz = _open_quiz(session)
    term = next((w for w in quiz.words if text_fold(w) == text_fold(word)), None)
    if term is None:
        raise QuizError(f"{word!r} is not one of this quiz's words: {', '.join(quiz.words)}")
    matches = learner_words_by_term(learner=learner, term=term)
    if not matches:
        raise QuizError(f"{word!r} is no longer in the learner's lists")
    if term not in quiz.answers:
        term_practice_record(
            learner=learner, words=matches, outcome=outcome, source=Review.Source.VOICE, session=session,
            now=now, clear=session_term_clear(session=session, term=term),
        )
        quiz.answers = {**quiz.answers, term: outcome}
        quiz.save(update_fields=["answers"])
    remaining = [w for w in quiz.words if w not in quiz.answers]
    if not remaining:
        return {"recorded": True, "word": term, **_finish(learner=learner, session=session, quiz=quiz, now=now)}
    return {"recorded": True, "word": term, "remaining": len(remaining)}


@transaction.atomic
def oral_quiz_finish(*, learner, session: TutorSession, now: dt.datetime | None = None) -> dict[str, Any]:
    """End the quiz now: unanswered words count as incorrect."""
    quiz = _open_quiz(session)
    return _finish(learner=learner, session=session, quiz=quiz, now=now or clock.now())


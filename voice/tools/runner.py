"""Function tools the tutor model may call, and running a call for a learner.

The page relays each ``function_call`` over the conversation socket; ``tool_call_run``
answers with the JSON string the page sends back as ``function_call_output``. Whatever
the model sends, the answer is a JSON object, ``{"error": ...}`` when the call is wrong.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction

from common.text import storable
from tutor.clarity import session_term_clear
from tutor.models import Review, ToolCall, TutorSession, Word, WordProgress
from tutor.practice import term_practice_record
from tutor.progress import learner_words_by_term
from voice.tools import quiz
from voice.tools.schemas import MAX_ARGUMENTS_CHARS, MAX_WORD_CHARS, OUTCOMES

logger = logging.getLogger(__name__)

TOOL_FAILED = json.dumps({"error": "the tool failed; carry on without it"})


class ToolError(Exception):
    """A call the tutor got wrong; its message goes back to the model."""


def _error(message: str) -> str:
    return json.dumps({"error": message})


def _arguments(arguments_json: Any) -> dict[str, Any]:
    if not isinstance(arguments_json, str):
        raise ToolError("arguments must be a JSON string")
    if len(arguments_json) > MAX_ARGUMENTS_CHARS:
        raise ToolError("arguments are too long")
    try:
        arguments = json.loads(arguments_json or "{}")
    except (ValueError, RecursionError):
        raise ToolError("arguments are not valid JSON") from None
    if not isinstance(arguments, dict):
        raise ToolError("arguments must be a JSON object")
    for key, value in arguments.items():
        if not _storable_json(key) or not _storable_json(value):
            shown = key if storable(key) else ascii(key)
            raise ToolError(f"{shown[:64]} contains a character that cannot be stored")
    return arguments


def _storable_json(value: Any) -> bool:
    """Whether every string in decoded JSON ``value`` can be stored (no NUL, no lone surrogate)."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return all(_storable_json(key) and _storable_json(inner) for key, inner in value.items())
    if isinstance(value, list):
        return all(_storable_json(inner) for inner in value)
    return True


def _stored_name(name: Any) -> str:
    """``name`` as it can be stored and shown: a tool name, or an escaped form of anything else."""
    if isinstance(name, str) and storable(name):
        return name[:64]
    return ascii(name)[:64]


def _string(arguments: dict[str, Any], name: str, *, max_chars: int) -> str:
    value = arguments.get(name)
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"{name} must be a non-empty string")
    if len(value) > max_chars:
        raise ToolError(f"{name} is too long")
    return value


def _learner_words(learner, arguments: dict[str, Any]) -> list[Word]:
    term = _string(arguments, "word", max_chars=MAX_WORD_CHARS)
    words = learner_words_by_term(learner=learner, term=term)
    if not words:
        raise ToolError(f"{' '.join(term.split())!r} is not in the learner's word lists")
    return words


def _progress_summary(progress: WordProgress | None) -> dict[str, Any]:
    if progress is None:
        return {"state": "new", "times_correct": 0, "times_incorrect": 0, "last_result": None}
    return {
        "state": progress.state,
        "times_correct": progress.correct_count,
        "times_incorrect": progress.incorrect_count,
        "last_result": progress.last_result or None,
    }


def _record_word_practice(learner, session, arguments: dict[str, Any]) -> dict[str, Any]:
    words = _learner_words(learner, arguments)
    outcome = arguments.get("outcome")
    if outcome not in OUTCOMES:
        raise ToolError(f"outcome must be one of {', '.join(OUTCOMES)}")
    first = term_practice_record(
        learner=learner, words=words, outcome=outcome, source=Review.Source.VOICE, session=session,
        clear=session_term_clear(session=session, term=words[0].term),
    )
    return {
        "recorded": True,
        "word": words[0].term,
        "outcome": outcome,
        "next_review_in_days": first.interval_days,
        **_progress_summary(first),
    }


def _get_word_details(learner, session, arguments: dict[str, Any]) -> dict[str, Any]:
    word = _learner_words(learner, arguments)[0]
    progress = WordProgress.objects.filter(learner=learner, word=word).first()
    return {
        "word": word.term,
        "meaning": word.meaning,
        "part_of_speech": word.part_of_speech or None,
        "example": word.example or None,
        "list": word.word_list.name,
        **_progress_summary(progress),
    }


def _in_session(session: TutorSession | None) -> TutorSession:
    if session is None:
        raise ToolError("the oral quiz only runs inside a voice session")
    return session


def _start_oral_quiz(learner, session, arguments: dict[str, Any]) -> dict[str, Any]:
    return quiz.oral_quiz_start(learner=learner, session=_in_session(session))


def _record_quiz_answer(learner, session, arguments: dict[str, Any]) -> dict[str, Any]:
    word = _string(arguments, "word", max_chars=MAX_WORD_CHARS)
    outcome = arguments.get("outcome")
    return quiz.oral_quiz_answer(learner=learner, session=_in_session(session), word=word, outcome=outcome)


def _finish_oral_quiz(learner, session, arguments: dict[str, Any]) -> dict[str, Any]:
    return quiz.oral_quiz_finish(learner=learner, session=_in_session(session))


TOOLS: dict[str, Callable[[Any, TutorSession | None, dict[str, Any]], dict[str, Any]]] = {
    "record_word_practice": _record_word_practice,
    "get_word_details": _get_word_details,
    "start_oral_quiz": _start_oral_quiz,
    "record_quiz_answer": _record_quiz_answer,
    "finish_oral_quiz": _finish_oral_quiz,
}


def _run(learner, session, name: Any, arguments_json: Any) -> str:
    tool = TOOLS.get(name) if isinstance(name, str) else None
    if tool is None:
        return _error(f"unknown tool {_stored_name(name)!r}")
    try:
        # A savepoint: a tool that fails leaves nothing half written, and the caller's
        # transaction stays usable.
        with transaction.atomic():
            return json.dumps(tool(learner, session, _arguments(arguments_json)))
    except (ToolError, quiz.QuizError) as error:
        return _error(str(error))
    except Exception:
        # The model must get an answer and the socket must stay up; the log has the trace.
        logger.exception("Tool %s failed for learner %s", name, getattr(learner, "pk", None))
        return TOOL_FAILED


class _RunTwice(Exception):
    """Another process ran and stored the same call first: undo this run."""


def tool_call_run(
    *,
    learner,
    name: Any,
    arguments_json: Any,
    session: TutorSession | None = None,
    call_id: str | None = None,
) -> str:
    """Run the tool ``name`` for ``learner``; the output is always a JSON object string.

    With a ``session`` and the model's ``call_id``, practice is logged against the session
    and the call runs once, whichever process a resend reaches: its output is stored under a
    unique (session, call id), and a resend gets the stored output. A run that loses a race
    to a simultaneous one is rolled back and answers with the winner's output. A call that
    failed on our side (``TOOL_FAILED``) is not stored, so a resend tries again.
    """
    if session is None or not call_id:
        return _run(learner, session, name, arguments_json)
    call_id = str(call_id)[:128]
    if not storable(call_id):
        return _error("call_id contains a character that cannot be stored")
    try:
        with transaction.atomic():
            stored = _stored_output(session, call_id)
            if stored is not None:
                return stored
            output = _run(learner, session, name, arguments_json)
            if output == TOOL_FAILED:
                return output
            try:
                with transaction.atomic():
                    ToolCall.objects.create(
                        session=session, call_id=call_id, name=_stored_name(name), output=output
                    )
            except IntegrityError:
                raise _RunTwice from None
            return output
    except _RunTwice:
        return _stored_output(session, call_id) or TOOL_FAILED


def _stored_output(session: TutorSession, call_id: str) -> str | None:
    return ToolCall.objects.filter(session=session, call_id=call_id).values_list("output", flat=True).first()

"""Every function tool the models may call, as the Realtime API's ``session.tools`` entries.

The tutor has ``TOOL_DEFINITIONS``; the examiner of the oral quiz has ``EXAMINER_TOOLS``.
Schemas only: ``voice.tools.runner`` runs the calls.
"""

from __future__ import annotations

from typing import Any

OUTCOMES = ["correct", "incorrect", "hesitant"]
MAX_ARGUMENTS_CHARS = 4_000
MAX_WORD_CHARS = 120

RECORD_WORD_PRACTICE = {
    "type": "function",
    "name": "record_word_practice",
    "description": (
        "Record one attempt by the learner at a focus word, so its spaced-repetition "
        "schedule is updated. Call it once per attempt, right after the learner uses or "
        "tries the word."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "word": {
                "type": "string",
                "description": "The focus word exactly as written in the Focus words line.",
            },
            "outcome": {
                "type": "string",
                "enum": OUTCOMES,
                "description": (
                    "correct: right meaning and form without help; hesitant: right after a "
                    "pause, a hint or a self-correction; incorrect: wrong or not produced."
                ),
            },
        },
        "required": ["word", "outcome"],
        "additionalProperties": False,
    },
}

GET_WORD_DETAILS = {
    "type": "function",
    "name": "get_word_details",
    "description": (
        "Look up one of the learner's words: its meaning, part of speech, example sentence "
        "and how the learner has done with it so far."
    ),
    "parameters": {
        "type": "object",
        "properties": {
            "word": {"type": "string", "description": "The word as written in the learner's list."},
        },
        "required": ["word"],
        "additionalProperties": False,
    },
}

START_ORAL_QUIZ = {
    "type": "function",
    "name": "start_oral_quiz",
    "description": (
        "Hand the conversation to the examiner for a short oral quiz on the learner's words. "
        "Call it when the learner asks to be quizzed or tested."
    ),
    "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
}

RECORD_QUIZ_ANSWER = {
    "type": "function",
    "name": "record_quiz_answer",
    "description": "Record the learner's answer for one quiz word, right after they answer.",
    "parameters": {
        "type": "object",
        "properties": {
            "word": {"type": "string", "description": "The quiz word exactly as written in the Focus words line."},
            "outcome": {
                "type": "string",
                "enum": OUTCOMES,
                "description": "correct: right without help; hesitant: right after a hint; incorrect: wrong or no answer.",
            },
        },
        "required": ["word", "outcome"],
        "additionalProperties": False,
    },
}

FINISH_ORAL_QUIZ = {
    "type": "function",
    "name": "finish_oral_quiz",
    "description": "End the quiz early (unanswered words count as incorrect) and hand back to the tutor.",
    "parameters": {"type": "object", "properties": {}, "additionalProperties": False},
}


TOOL_DEFINITIONS: list[dict[str, Any]] = [RECORD_WORD_PRACTICE, GET_WORD_DETAILS, START_ORAL_QUIZ]
EXAMINER_TOOLS: list[dict[str, Any]] = [RECORD_QUIZ_ANSWER, FINISH_ORAL_QUIZ]
# The tools that write grades and practice: with the sideband on, only calls the server saw on
# the call itself run them (the page may still start the quiz or look a word up).
SIDEBAND_ONLY_TOOLS = frozenset({"record_word_practice", "record_quiz_answer", "finish_oral_quiz"})

"""From a learner's data to the tutor's instructions and the whole Realtime session config.

``tutor_plan_build`` reads (five queries whatever the vocabulary size, see
``tutor.progress.tutor_material``; none while ``tutor.material_cache`` holds the plan);
everything else here is pure, so the same data always gives the same text. The instructions
carry one line ``Focus words: gato, perro, casa`` with the exact terms the tools accept; the
local stand-in's scripted tutor reads it too.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from common import clock
from common.text import text_fold
from tutor.material_cache import material_derived_cached
from tutor.progress import TutorMaterial, WordState
from voice.tools.schemas import TOOL_DEFINITIONS

MAX_FOCUS_WORDS = 12
MAX_REVISION_WORDS = 2
MAX_INSTRUCTIONS_CHARS = 4_000
MAX_MEANING_CHARS = 60
MAX_NAME_CHARS = 40
MAX_LIST_NAME_CHARS = 40

LEVEL_GUIDANCE = {
    "A1": "Use very short sentences and the most common words, speak slowly, and repeat "
    "new words. Explain briefly in {native} whenever the learner is lost.",
    "A2": "Use short, simple sentences about everyday life and speak slowly and clearly. "
    "Explain a word in {native} only when a simple {target} paraphrase does not work.",
    "B1": "Hold an everyday conversation at a clear, moderate pace. Explain new words in "
    "simple {target} first; use {native} only as a last resort.",
    "B2": "Talk naturally about familiar and abstract topics. Stay in {target}; correct "
    "mistakes briefly by recasting the learner's sentence.",
    "C1": "Talk at a natural pace with idiomatic {target}. Stay in {target} and point out "
    "nuances of register and usage.",
    "C2": "Talk as with a fluent speaker: natural pace, idioms, nuance. Stay in {target}.",
}

KIND_NOTES = {
    "due": "due for review",
    "weak": "often missed",
    "new": "new",
    "revision": "mastered, light revision",
}

TURN_DETECTION = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 700,
    "create_response": True,
    "interrupt_response": True,
}


@dataclass(frozen=True)
class FocusWord:
    term: str
    meaning: str
    part_of_speech: str
    kind: str  # due, weak, new or revision


@dataclass(frozen=True)
class TutorPlan:
    instructions: str
    session_config: dict[str, Any]
    focus_words: list[str]
    focus: tuple[FocusWord, ...] = ()


def _one_line(text: str, limit: int | None = None) -> str:
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if limit is not None and len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _fits_focus_line(term: str) -> bool:
    # A comma would split the term when the line is read back.
    return bool(term) and "," not in term


def focus_words_choose(material: TutorMaterial, *, limit: int = MAX_FOCUS_WORDS) -> list[FocusWord]:
    """Due and weak words first, then new ones, then a few mastered ones for revision."""
    revision_slots = min(MAX_REVISION_WORDS, len(material.revision), limit)
    chosen: list[FocusWord] = []
    seen: set[str] = set()

    def take(states: list[WordState], kind: str, up_to: int) -> None:
        for state in states:
            if len(chosen) >= up_to:
                return
            term = _one_line(state.word.term)
            if not _fits_focus_line(term) or text_fold(term) in seen:
                continue
            seen.add(text_fold(term))
            chosen.append(
                FocusWord(
                    term=term,
                    meaning=_one_line(state.word.meaning, MAX_MEANING_CHARS),
                    part_of_speech=state.word.part_of_speech,
                    kind=kind,
                )
            )

    take(material.due, "due", limit - revision_slots)
    take(material.weak, "weak", limit - revision_slots)
    take(material.new, "new", limit - revision_slots)
    take(material.revision, "revision", limit)
    return chosen


def _grades_text(material: TutorMaterial) -> list[str]:
    if not material.recent_results:
        return ["No test grades yet."]
    grades = "; ".join(
        f"{result.score}/{result.max_score} ({result.percent}%)"
        + (f" on {_one_line(result.word_list.name, MAX_LIST_NAME_CHARS)}" if result.word_list else "")
        for result in material.recent_results
    )
    average = sum(result.percent for result in material.recent_results) / len(material.recent_results)
    if average < 60:
        advice = "The learner is struggling: go slower, give more hints and repeat more."
    elif average >= 85:
        advice = "The learner is doing well: stretch them a little with longer answers."
    else:
        advice = "Keep a steady pace with plenty of practice."
    return [f"Recent test grades, newest first: {grades}.", advice]


def instructions_render(*, learner, material: TutorMaterial, focus: list[FocusWord]) -> str:
    target = learner.target_language_name
    native = learner.native_language_name
    level = learner.cefr_level if learner.cefr_level in LEVEL_GUIDANCE else "A1"
    # Only a name the learner chose: never a part of their email address.
    name = _one_line(learner.display_name, MAX_NAME_CHARS)
    who = f'The learner, "{name}",' if name else "The learner"
    lines = [
        f"You are Parlance, a warm and patient {target} tutor in a spoken conversation.",
        f"{who} is practising {target} at CEFR level {level}; their native language is {native}.",
        "Speak mostly "
        + target
        + ". "
        + LEVEL_GUIDANCE[level].format(target=target, native=native),
        "Keep each turn short (one to three sentences) and end it with a question or a prompt "
        "so the learner does most of the talking. Never lecture.",
        "",
    ]
    if focus:
        lines += [
            "Practise the focus words below, one at a time, in this order of priority. Get the "
            "learner to say each word in a short sentence of their own; prompt with the "
            f"meaning or a situation rather than saying the word first. Give the {native} "
            "meaning only if they are stuck.",
            "Focus words: " + ", ".join(word.term for word in focus),
            "Word notes:",
            *(
                f"- {word.term}"
                + (f" ({word.part_of_speech})" if word.part_of_speech else "")
                + f": {word.meaning} [{KIND_NOTES[word.kind]}]"
                for word in focus
            ),
            "",
            "Each time the learner uses or attempts a focus word, call record_word_practice "
            "once with the word exactly as written in the Focus words line and the outcome: "
            '"correct" (right meaning and form, no help), "hesitant" (right after a pause, a '
            'hint or a self-correction) or "incorrect". Call get_word_details when you need a '
            "word's example or the learner's history with it. When the learner asks to be "
            "quizzed or tested, call start_oral_quiz: an examiner takes over. Do not mention "
            "the tools.",
        ]
    else:
        lines += [
            "The learner has no assigned words yet, so this is a first, beginner-friendly "
            "conversation: greet them, ask their name and where they are from, and practise "
            f"greetings, numbers and everyday phrases in very simple {target}.",
            "Do not call the word tools: there are no words to record yet.",
        ]
    lines += ["", *_grades_text(material), ""]
    lines += [
        "Correct mistakes gently by repeating the sentence correctly, then move on. Praise "
        "real progress briefly. If the learner speaks "
        f"{native}, answer briefly and steer back to {target}.",
    ]
    return "\n".join(lines).strip()


def session_config_build(
    *, instructions: str, language: str, model: str, voice: str, transcribe_model: str
) -> dict[str, Any]:
    """The ``session`` object of ``POST /v1/realtime/client_secrets`` (GA shape)."""
    return {
        "type": "realtime",
        "model": model,
        "instructions": instructions,
        "output_modalities": ["audio"],
        # Each learner token's logprob on ...transcription.completed: how clearly a word was said.
        "include": ["item.input_audio_transcription.logprobs"],
        "audio": {
            "input": {
                "transcription": {"model": transcribe_model, "language": language},
                "turn_detection": dict(TURN_DETECTION),
            },
            "output": {"voice": voice},
        },
        "tools": copy.deepcopy(TOOL_DEFINITIONS),
        "tool_choice": "auto",
    }


def tutor_plan_render(*, learner, material: TutorMaterial) -> TutorPlan:
    """Pure: the plan for ``learner`` given ``material``, within the size bound."""
    focus = focus_words_choose(material)
    instructions = instructions_render(learner=learner, material=material, focus=focus)
    while len(instructions) > MAX_INSTRUCTIONS_CHARS and focus:
        focus = focus[:-1]
        instructions = instructions_render(learner=learner, material=material, focus=focus)
    session_config = session_config_build(
        instructions=instructions,
        language=learner.target_language,
        model=settings.REALTIME_MODEL,
        voice=settings.REALTIME_VOICE,
        transcribe_model=settings.REALTIME_TRANSCRIBE_MODEL,
    )
    return TutorPlan(
        instructions=instructions,
        session_config=session_config,
        focus_words=[word.term for word in focus],
        focus=tuple(focus),
    )


PLAN_FORMAT = 1  # change with what a plan holds or how it is rendered, so no old plan is used


def _plan_fingerprint(learner) -> str:
    """Everything a plan depends on besides the material: the learner's fields and the settings
    ``tutor_plan_render`` reads (a change to any of them makes another cache entry)."""
    inputs = (
        PLAN_FORMAT, learner.target_language, learner.native_language, learner.cefr_level,
        learner.display_name, settings.REALTIME_MODEL, settings.REALTIME_VOICE,
        settings.REALTIME_TRANSCRIBE_MODEL,
    )
    return hashlib.blake2b(repr(inputs).encode("utf-8", "surrogatepass"), digest_size=12).hexdigest()


def tutor_plan_build(*, learner, now: dt.datetime | None = None) -> TutorPlan:
    """The tutor's plan for ``learner`` now, rendered from their material and kept in the cache
    with it while it is still right (``tutor.material_cache``): a mint reads it in one cache
    round trip, with no query and no rendering."""
    return material_derived_cached(
        learner=learner,
        now=now or clock.now(),
        limit=MAX_FOCUS_WORDS,
        revision_limit=MAX_REVISION_WORDS,
        derive=lambda material: tutor_plan_render(learner=learner, material=material),
        name="plan",
        fingerprint=_plan_fingerprint(learner),
    )


def focus_words_shown(focus: list[FocusWord] | tuple[FocusWord, ...]) -> list[dict[str, str]]:
    """The focus words as the tutor page lists them: each term with its meaning."""
    return [{"term": word.term, "meaning": word.meaning} for word in focus]

"""A saved session's transcript as the learner reads it: the conversation's turns, and each
tool call as one small chip ("✓ casa practised", "quiz started") with its raw call and output
kept for a details toggle. The page's own chips (``static/js/tutor/activity.js``) say the same.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from tutor.models import ConversationItem

MAX_WORD_CHARS = 40


@dataclass
class Activity:
    call_id: str
    name: str = ""
    arguments: str = ""
    output: str | None = None
    items: list[ConversationItem] = field(default_factory=list)

    @property
    def label(self) -> str:
        return activity_label(name=self.name, arguments=self.arguments, output=self.output)


@dataclass(frozen=True)
class Entry:
    turn: ConversationItem | None = None
    activity: Activity | None = None


def _object(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text:
        return {}
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return {}
    return value if isinstance(value, dict) else {}


def _short(text: Any) -> str:
    clean = " ".join(str(text or "").split())
    return clean if len(clean) <= MAX_WORD_CHARS else clean[: MAX_WORD_CHARS - 1] + "…"


def activity_label(*, name: str, arguments: str, output: str | None) -> str:
    """The chip's words for one tool call (``output`` None: no answer was saved)."""
    result = _object(output) if output is not None else None
    args = _object(arguments)
    word = _short((result or {}).get("word") or args.get("word") or "")
    failed = bool(result and result.get("error"))
    if name == "start_oral_quiz":
        return "quiz could not start" if failed else "quiz started"
    if result is None:
        return f"{name or 'tool'} (no answer saved)"
    if result.get("quiz_finished"):
        return f"quiz finished: {result.get('score')}/{result.get('max_score')}"
    if name == "finish_oral_quiz":
        return "quiz not finished" if failed else "quiz finished"
    if name == "get_word_details":
        return "word not found" if failed else f"looked up {word}"
    if failed:
        return f"{word} not recorded" if word else "not recorded"
    if name == "record_quiz_answer":
        return f"✓ {word} answered" if word else "✓ answer recorded"
    if result.get("recorded") and word:
        return f"✓ {word} practised"
    return f"✓ {_short(name) or 'tool'} done"


def transcript_entries(items: list[ConversationItem]) -> list[Entry]:
    """The items in order: message items as turns; a call and its output as one activity,
    placed where the call (or, without one, the output) came."""
    entries: list[Entry] = []
    activities: dict[str, Activity] = {}
    for item in items:
        if item.kind == ConversationItem.Kind.MESSAGE:
            entries.append(Entry(turn=item))
            continue
        raw = item.raw if isinstance(item.raw, dict) else {}
        call_id = str(raw.get("call_id") or item.item_id)
        activity = activities.get(call_id)
        if activity is None:
            activity = activities[call_id] = Activity(call_id=call_id)
            entries.append(Entry(activity=activity))
        activity.items.append(item)
        if item.kind == ConversationItem.Kind.FUNCTION_CALL:
            activity.name = str(raw.get("name") or "")
            activity.arguments = str(raw.get("arguments") or "")
        else:
            output = raw.get("output")
            activity.output = output if isinstance(output, str) else item.text
    return entries

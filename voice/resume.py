"""Instructions for a resumed session: the original ones plus a short recap of the saved turns.

When the WebRTC call drops (or its key expired), the page asks for a fresh key for the same
tutor session. The new call starts with an empty conversation upstream, so the tutor is told
what was said last, and not to greet or start over. The recap is bounded: the last
``MAX_RECAP_TURNS`` learner and tutor messages, each cut to ``MAX_TURN_CHARS``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tutor.models import ConversationItem, TutorSession

MAX_RECAP_TURNS = 8
MAX_TURN_CHARS = 200
RECAP_HEADING = "The call dropped and has just reconnected."
PLACEHOLDER = re.compile(r"^\[[^\]]*\]$")  # "[inaudible]", "[speech 1.4 s]"
SPEAKERS = {ConversationItem.Role.USER: "Learner", ConversationItem.Role.ASSISTANT: "Tutor"}


@dataclass(frozen=True)
class Turn:
    role: str
    text: str


def _one_line(text: str, limit: int) -> str:
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def recap_render(*, instructions: str, turns: list[Turn]) -> str:
    """Pure: ``instructions`` with the recap of ``turns`` (oldest first) appended."""
    lines = []
    for turn in turns[-MAX_RECAP_TURNS:]:
        text = _one_line(turn.text, MAX_TURN_CHARS)
        if turn.role in SPEAKERS and text and not PLACEHOLDER.match(text):
            lines.append(f"- {SPEAKERS[turn.role]}: {text}")
    if not lines:
        return instructions
    return "\n".join(
        [
            instructions.rstrip(),
            "",
            f"{RECAP_HEADING} Do not greet the learner again or start over: carry on the "
            "conversation from where it stopped. The last turns were:",
            *lines,
        ]
    )


def recent_turns(*, session: TutorSession, limit: int = MAX_RECAP_TURNS) -> list[Turn]:
    """The session's last ``limit`` saved learner and tutor messages, oldest first (one query)."""
    items = (
        ConversationItem.objects.filter(
            session=session,
            kind=ConversationItem.Kind.MESSAGE,
            role__in=list(SPEAKERS),
        )
        .exclude(text="")
        .order_by("-order", "-created_at")
        .values_list("role", "text")[: limit * 2]
    )
    turns = [Turn(role=role, text=text) for role, text in items]
    turns = [turn for turn in turns if not PLACEHOLDER.match(turn.text.strip())][:limit]
    return list(reversed(turns))


def resume_instructions_build(*, session: TutorSession) -> str:
    """The instructions for a new call of ``session``: its own, plus the recap."""
    return recap_render(instructions=session.instructions, turns=recent_turns(session=session))

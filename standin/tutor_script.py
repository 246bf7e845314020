"""The scripted tutor: deterministic replies driven by the session's instructions and tools.

It is not an AI and says so. It reads the learner's vocabulary from a line of the instructions
of the form ``Focus words: gato, perro, casa``, greets, asks for one focus word at a time, and
when a learner turn contains a focus word and a function tool is configured it calls the tool
(``record_word_practice`` when present), with arguments built from the tool's JSON Schema. After
the ``function_call_output`` it answers, naming the word.

As the examiner (instructions with a ``Clues: water | house`` line, one clue per focus word
in order) it tests recall: it asks with the clue and never says the word it asks for; the
learner's next turn is their answer, recorded correct when it holds the word and incorrect
otherwise.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from typing import Any

FOCUS_LINE = re.compile(r"^[ \t]*Focus words:[ \t]*(.*?)[ \t]*$", re.MULTILINE | re.IGNORECASE)
CLUES_LINE = re.compile(r"^[ \t]*Clues:[ \t]*(.*?)[ \t]*$", re.MULTILINE | re.IGNORECASE)
PLACEHOLDER = re.compile(r"^\[speech [0-9.]+ s\]$")
PREFERRED_TOOL = "record_word_practice"
WORD_PROPERTIES = ("word", "term", "vocabulary", "lemma", "phrase", "expression", "focus_word")

GREETING = "Hello! I am the Parlance offline stand-in, a scripted practice partner, not an AI."


def focus_words(instructions: str | None) -> list[str]:
    """The terms of the ``Focus words:`` line, in order, without duplicates."""
    match = FOCUS_LINE.search(instructions or "")
    if not match:
        return []
    words: list[str] = []
    for raw in match.group(1).split(","):
        word = " ".join(raw.split())
        if word and word.lower() not in (w.lower() for w in words):
            words.append(word)
    return words


def quiz_clues(instructions: str | None) -> dict[str, str]:
    """Focus word -> the examiner's clue for it, from the ``Clues:`` line (empty: no quiz)."""
    match = CLUES_LINE.search(instructions or "")
    if not match:
        return {}
    clues = [" ".join(clue.split()) for clue in match.group(1).split("|")]
    words = focus_words(instructions)
    return {word: clue for word, clue in zip(words, clues)}


def _masked(word: str, text: str) -> str:
    """``text`` with ``word`` (whole words, case and accents ignored) as "___"."""
    if not word_in_text(word, text):
        return text
    folded = [_fold(part) for part in word.split()]
    tokens = text.split()
    out, i = [], 0
    while i < len(tokens):
        window = [re.sub(r"^\W+|\W+$", "", _fold(t)) for t in tokens[i : i + len(folded)]]
        if window == folded:
            out.append("___")
            i += len(folded)
        else:
            out.append(tokens[i])
            i += 1
    return " ".join(out)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def word_in_text(word: str, text: str) -> bool:
    """Whether ``word`` occurs in ``text`` as whole words (case and accents ignored)."""
    pattern = r"(?<!\w)" + r"\s+".join(re.escape(part) for part in _fold(word).split()) + r"(?!\w)"
    return re.search(pattern, _fold(text)) is not None


def first_focus_word(text: str, words: list[str]) -> str | None:
    found = [(len(w), w) for w in words if word_in_text(w, text)]
    if not found:
        return None
    # The longest match wins, so "el gato" beats "gato".
    return max(found, key=lambda pair: pair[0])[1]


def schema_value(schema: Any, *, name: str = "", word: str = "") -> Any:
    """A value that satisfies ``schema`` (a small, common subset of JSON Schema)."""
    if not isinstance(schema, dict):
        return word or "stand-in"
    if "const" in schema:
        return schema["const"]
    if "enum" in schema and schema["enum"]:
        return "correct" if "correct" in schema["enum"] else schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    for combinator in ("anyOf", "oneOf", "allOf"):
        if schema.get(combinator):
            return schema_value(schema[combinator][0], name=name, word=word)
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        properties = schema.get("properties") or {}
        return {key: schema_value(sub, name=key, word=word) for key, sub in properties.items()}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [schema_value(schema.get("items", {}), name=name, word=word) for _ in range(count)]
    if kind == "integer":
        return int(schema.get("minimum", 1 if schema.get("exclusiveMinimum") is None else schema["exclusiveMinimum"] + 1))
    if kind == "number":
        return float(schema.get("minimum", 1.0))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if name.lower() in WORD_PROPERTIES and word:
        return word
    text = word if word and name.lower().endswith(("word", "term")) else "practised with the Parlance stand-in"
    min_length = int(schema.get("minLength", 0))
    return text + "." * max(0, min_length - len(text))


def tool_arguments(tool: dict[str, Any], word: str) -> dict[str, Any]:
    value = schema_value(tool.get("parameters") or {"type": "object"}, word=word)
    return value if isinstance(value, dict) else {}


def _word_from_arguments(arguments: str) -> str | None:
    try:
        value = json.loads(arguments)
    except (TypeError, ValueError):
        return None
    if isinstance(value, dict):
        for key in WORD_PROPERTIES:
            if isinstance(value.get(key), str):
                return value[key]
    return None


def _text_of(item: dict[str, Any]) -> str | None:
    """The learner's words in a user message item (typed text or audio transcript)."""
    parts = []
    for part in item.get("content") or []:
        if part.get("type") == "input_text":
            parts.append(part.get("text") or "")
        elif part.get("type") == "input_audio":
            parts.append(part.get("transcript") or "")
    text = " ".join(p for p in parts if p).strip()
    return text or None


@dataclass(frozen=True)
class Reply:
    """Either a spoken/text answer or a call of one function tool."""

    text: str | None = None
    tool_name: str | None = None
    arguments: str | None = None


class TutorScript:
    """The scripted tutor of one call. Keeps only which word to ask for next."""

    def __init__(self) -> None:
        self._asked = 0
        self._current: str | None = None  # the word asked for last
        self._instructions: str | None = None

    def _next_word(self, words: list[str], avoid: str | None = None) -> str | None:
        if not words:
            return None
        for _ in range(len(words)):
            word = words[self._asked % len(words)]
            self._asked += 1
            if word != avoid or len(words) == 1:
                return word
        return words[0]

    def _ask(self, words: list[str], avoid: str | None = None, clues: dict[str, str] | None = None) -> str:
        word = self._next_word(words, avoid)
        self._current = word
        if word is None:
            return "Say a sentence in the language you are learning, and I will answer."
        if clues:
            clue = _masked(word, clues.get(word) or "this word")
            return f"Which word means '{clue}'? Say it in a sentence."
        return f"Please use the word '{word}' in a sentence."

    def _pick_tool(self, tools: list[dict[str, Any]], tool_choice: Any) -> dict[str, Any] | None:
        functions = [t for t in tools if t.get("type") == "function"]
        if not functions or tool_choice == "none":
            return None
        if isinstance(tool_choice, dict):
            return next((t for t in functions if t["name"] == tool_choice.get("name")), None)
        return next((t for t in functions if t["name"] == PREFERRED_TOOL), functions[0])

    def reply(
        self,
        *,
        instructions: str | None,
        tools: list[dict[str, Any]],
        tool_choice: Any,
        conversation: list[dict[str, Any]],
    ) -> Reply:
        words = focus_words(instructions)
        clues = quiz_clues(instructions)
        if instructions != self._instructions:
            # A handoff (tutor to examiner or back): start the new persona's words from the top.
            self._instructions, self._asked, self._current = instructions, 0, None
        if clues:
            return self._examine(words=words, clues=clues, tools=tools, tool_choice=tool_choice, conversation=conversation)
        last = conversation[-1] if conversation else None
        spoke_before = any(
            item.get("type") == "message" and item.get("role") == "assistant" for item in conversation
        )

        if last is not None and last.get("type") == "function_call_output":
            call = next(
                (
                    item
                    for item in conversation
                    if item.get("type") == "function_call" and item.get("call_id") == last.get("call_id")
                ),
                None,
            )
            word = _word_from_arguments(call.get("arguments", "")) if call else None
            if word:
                return Reply(text=f"Noted: you practised '{word}'. Well done! {self._ask(words, avoid=word)}")
            return Reply(text=f"Thank you, noted. {self._ask(words)}")

        if last is not None and last.get("type") == "function_call":
            return Reply(text=f"I am waiting for the result of {last.get('name')}.")

        if last is not None and last.get("type") == "message" and last.get("role") == "user":
            text = _text_of(last)
            if text is None:
                return Reply(text=f"I did not catch that. {self._ask(words)}")
            if PLACEHOLDER.match(text):
                return Reply(
                    text=f"I heard you speak, but I could not make out a focus word. {self._ask(words)}"
                )
            word = first_focus_word(text, words)
            if word is not None:
                tool = self._pick_tool(tools, tool_choice)
                if tool is not None:
                    arguments = json.dumps(tool_arguments(tool, word), ensure_ascii=False)
                    return Reply(tool_name=tool["name"], arguments=arguments)
                return Reply(text=f"Nice, you used '{word}'. {self._ask(words, avoid=word)}")
            if not words:
                return Reply(
                    text=f"You said: {text}. I am a scripted stand-in, so I only repeat it back. Keep practising!"
                )
            return Reply(text=f"I did not hear one of your focus words in that. {self._ask(words)}")

        if not spoke_before:
            return Reply(text=f"{GREETING} {self._ask(words)}")
        return Reply(text=f"Let us keep going. {self._ask(words)}")

    def _examine(
        self,
        *,
        words: list[str],
        clues: dict[str, str],
        tools: list[dict[str, Any]],
        tool_choice: Any,
        conversation: list[dict[str, Any]],
    ) -> Reply:
        """The examiner's turn: ask by clue; the learner's next turn answers the word asked."""
        last = conversation[-1] if conversation else None
        if last is not None and last.get("type") == "function_call_output":
            call = next(
                (i for i in conversation if i.get("type") == "function_call" and i.get("call_id") == last.get("call_id")),
                {},
            )
            opening = "Thank you, noted." if call.get("name") == "record_quiz_answer" else "Here is your quiz."
            return Reply(text=f"{opening} {self._ask(words, clues=clues)}")
        if last is not None and last.get("type") == "function_call":
            return Reply(text=f"I am waiting for the result of {last.get('name')}.")
        if last is not None and last.get("type") == "message" and last.get("role") == "user":
            text = _text_of(last)
            asked = self._current
            tool = self._pick_tool(tools, tool_choice)
            if text is None or asked is None or tool is None:
                return Reply(text=f"I did not catch that. {self._ask(words, clues=clues)}")
            arguments = tool_arguments(tool, asked)
            if "outcome" in arguments:
                heard = not PLACEHOLDER.match(text) and word_in_text(asked, text)
                arguments["outcome"] = "correct" if heard else "incorrect"
            return Reply(tool_name=tool["name"], arguments=json.dumps(arguments, ensure_ascii=False))
        return Reply(text=f"Here is your quiz. {self._ask(words, clues=clues)}")

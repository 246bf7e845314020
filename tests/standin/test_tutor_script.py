"""The scripted tutor's parsing of instructions and its tool arguments."""

from __future__ import annotations

import json

import pytest

from standin.tutor_script import TutorScript, first_focus_word, focus_words, schema_value, tool_arguments, word_in_text
from tests.standin.helpers import RECORD_WORD_PRACTICE


def test_it_reads_the_focus_words_line():
    instructions = "Be kind.\nFocus words: gato, perro,  casa grande , Gato,\nSpeak slowly."

    assert focus_words(instructions) == ["gato", "perro", "casa grande"]


@pytest.mark.parametrize("instructions", [None, "", "No list here.", "Words: gato"])
def test_without_the_line_there_are_no_focus_words(instructions):
    assert focus_words(instructions) == []


def test_words_match_whole_words_ignoring_case_and_accents():
    assert word_in_text("niño", "El NINO juega")
    assert word_in_text("casa grande", "una casa   grande")
    assert not word_in_text("casa", "casamiento")
    assert first_focus_word("el gato y la casa grande", ["casa", "casa grande", "gato"]) == "casa grande"


def test_record_word_practice_arguments_follow_its_schema():
    assert tool_arguments(RECORD_WORD_PRACTICE, "gato") == {"word": "gato", "outcome": "correct"}


def test_schema_values_for_other_types():
    schema = {
        "type": "object",
        "properties": {
            "term": {"type": "string"},
            "note": {"type": "string", "minLength": 50},
            "score": {"type": "integer", "minimum": 3},
            "ratio": {"type": "number"},
            "ok": {"type": "boolean"},
            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
            "level": {"type": ["null", "string"], "enum": ["x", "y"]},
            "nested": {"type": "object", "properties": {"word": {"type": "string"}}},
        },
    }

    value = schema_value(schema, word="perro")

    assert value["term"] == "perro" and value["nested"] == {"word": "perro"}
    assert len(value["note"]) >= 50
    assert value["score"] == 3 and value["ratio"] == 1.0 and value["ok"] is True
    assert value["tags"] == ["a"] and value["level"] == "x"


def test_the_greeting_without_focus_words_is_still_honest():
    reply = TutorScript().reply(instructions="Be nice.", tools=[], tool_choice="auto", conversation=[])

    assert "offline stand-in" in reply.text and "not an AI" in reply.text


def test_it_asks_for_the_focus_words_in_turn():
    tutor = TutorScript()
    asked = [
        tutor.reply(instructions="Focus words: a1, b2", tools=[], tool_choice="auto", conversation=[]).text
        for _ in range(3)
    ]

    assert ["'a1'" in asked[0], "'b2'" in asked[1], "'a1'" in asked[2]] == [True, True, True]


def test_the_examiner_asks_by_clue_and_never_names_the_word():
    instructions = "Focus words: gato, casa grande\nClues: cat | a big house (casa grande)"
    tools = [{"type": "function", "name": "record_quiz_answer", "parameters": {
        "type": "object", "properties": {"word": {"type": "string"}, "outcome": {"type": "string", "enum": ["correct", "hesitant", "incorrect"]}}}}]
    script = TutorScript()
    first = script.reply(instructions=instructions, tools=tools, tool_choice="auto", conversation=[]).text
    assert "'cat'" in first and "gato" not in first.lower()
    wrong = script.reply(instructions=instructions, tools=tools, tool_choice="auto", conversation=[
        {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "perro"}]}])
    assert json.loads(wrong.arguments) == {"word": "gato", "outcome": "incorrect"}
    conversation = [{"type": "function_call", "name": "record_quiz_answer", "call_id": "a", "arguments": wrong.arguments},
                    {"type": "function_call_output", "call_id": "a", "output": "{}"}]
    second = script.reply(instructions=instructions, tools=tools, tool_choice="auto", conversation=conversation).text
    assert "___" in second and "casa" not in second.lower()

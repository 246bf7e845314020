"""tutor.transcript: a saved transcript as turns and tool chips."""

import json

import pytest

from tutor.models import ConversationItem, TutorSession
from tutor.transcript import activity_label, transcript_entries

pytestmark = pytest.mark.django_db


def test_labels_say_what_the_tool_did_in_plain_words():
    practised = json.dumps({"recorded": True, "word": "casa", "next_review_in_days": 105})
    assert activity_label(name="record_word_practice", arguments='{"word":"casa"}', output=practised) == "✓ casa practised"
    assert activity_label(name="record_word_practice", arguments='{"word":"casa"}', output='{"error": "unknown word"}') == "casa not recorded"
    assert activity_label(name="start_oral_quiz", arguments="{}", output=None) == "quiz started"
    assert activity_label(name="get_word_details", arguments='{"word":"casa"}', output='{"word": "casa"}') == "looked up casa"
    assert activity_label(name="record_quiz_answer", arguments="", output='{"recorded": true, "word": "casa"}') == "✓ casa answered"
    finished = '{"recorded": true, "quiz_finished": true, "score": 3, "max_score": 4}'
    assert activity_label(name="record_quiz_answer", arguments="", output=finished) == "quiz finished: 3/4"
    assert activity_label(name="other", arguments="not json", output="not json either") == "✓ other done"
    assert activity_label(name="record_word_practice", arguments="[1, 2]", output=None) == "record_word_practice (no answer saved)"


def test_a_call_and_its_output_are_one_activity_in_the_calls_place(alice):
    session = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    make = lambda item_id, role, kind, order, raw, text="": session.items.create(  # noqa: E731
        item_id=item_id, role=role, kind=kind, order=order, raw=raw, text=text
    )
    make("u1", "user", "message", 0, {}, "Mi casa")
    make("c1", "assistant", "function_call", 1, {"call_id": "call_1", "name": "record_word_practice", "arguments": '{"word":"casa"}'})
    make("a1", "assistant", "message", 2, {}, "¡Bien!")
    make("o1", "tool", "function_call_output", 3, {"call_id": "call_1", "output": '{"recorded": true, "word": "casa"}'})
    make("o2", "tool", "function_call_output", 4, "not a dict", '{"recorded": true, "word": "perro"}')

    entries = transcript_entries(list(session.items.order_by("order")))
    shape = [(e.turn.item_id if e.turn else None, e.activity.label if e.activity else None) for e in entries]
    assert shape == [("u1", None), (None, "✓ casa practised"), ("a1", None), (None, "✓ perro practised")]
    assert [item.item_id for item in entries[1].activity.items] == ["c1", "o1"]
    assert all(isinstance(e.turn, ConversationItem) for e in entries if e.turn)

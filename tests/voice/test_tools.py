import json
from unittest import mock

import pytest

from common.text import storable
from tutor.models import Assignment, Review, ToolCall, TutorSession, Word, WordList, WordProgress
from voice.tools.runner import TOOL_FAILED, tool_call_run
from voice.tools.schemas import TOOL_DEFINITIONS

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(alice):
    return TutorSession.objects.create(learner=alice, model="gpt-realtime", voice="marin", instructions="")


def run(learner, name, arguments, **kwargs):
    arguments_json = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return json.loads(tool_call_run(learner=learner, name=name, arguments_json=arguments_json, **kwargs))


def test_its_definitions_are_flat_ga_function_tools():
    by_name = {tool["name"]: tool for tool in TOOL_DEFINITIONS}
    assert set(by_name) >= {"record_word_practice", "get_word_details"}
    for tool in TOOL_DEFINITIONS:
        assert tool["type"] == "function" and "function" not in tool
        assert tool["parameters"]["type"] == "object"
    record = by_name["record_word_practice"]["parameters"]
    assert record["required"] == ["word", "outcome"]
    assert record["properties"]["outcome"]["enum"] == ["correct", "incorrect", "hesitant"]


def test_it_records_practice_against_the_session(alice, alice_words, session):
    output = run(alice, "record_word_practice", {"word": "gato", "outcome": "correct"}, session=session, call_id="call_1")

    assert output["recorded"] is True and output["word"] == "gato" and output["outcome"] == "correct"
    progress = WordProgress.objects.get(learner=alice, word__term="gato")
    assert (progress.repetitions, progress.correct_count, progress.last_result) == (1, 1, "correct")
    review = Review.objects.get(learner=alice)
    assert (review.source, review.session) == (Review.Source.VOICE, session)


def test_it_matches_words_ignoring_case_and_spacing(alice, alice_words):
    run(alice, "record_word_practice", {"word": "  GATO ", "outcome": "incorrect"})
    assert WordProgress.objects.get(learner=alice, word__term="gato").incorrect_count == 1


def test_it_matches_non_ascii_words_ignoring_case(alice, alice_words):
    Word.objects.create(word_list=alice_words, term="ñandú", meaning="rhea")
    output = run(alice, "record_word_practice", {"word": "ÑANDÚ", "outcome": "hesitant"})
    assert output["word"] == "ñandú"
    assert WordProgress.objects.get(learner=alice, word__term="ñandú").last_result == "hesitant"


def test_it_refuses_a_word_outside_the_learners_lists(alice, bob, alice_words):
    french = WordList.objects.create(name="French", language="fr")
    Word.objects.create(word_list=french, term="chat", meaning="cat")
    Assignment.objects.create(learner=bob, word_list=french)

    assert "not in the learner's word lists" in run(alice, "record_word_practice", {"word": "chat", "outcome": "correct"})["error"]
    assert "error" in run(bob, "record_word_practice", {"word": "gato", "outcome": "correct"})
    assert "error" in run(bob, "get_word_details", {"word": "gato"})
    assert not WordProgress.objects.exists()


@pytest.mark.parametrize(
    "name, arguments",
    [
        ("delete_everything", {"word": "gato"}),
        (None, {"word": "gato"}),
        ("record_word_practice", "{not json"),
        ("record_word_practice", "[1, 2]"),
        ("record_word_practice", {"word": 5, "outcome": "correct"}),
        ("record_word_practice", {"word": "", "outcome": "correct"}),
        ("record_word_practice", {"word": "gato", "outcome": "great"}),
        ("record_word_practice", {"word": "gato"}),
        ("record_word_practice", {"word": "g" * 121, "outcome": "correct"}),
        ("record_word_practice", "{" + '"x": "' + "y" * 5000 + '"}'),
        ("get_word_details", {}),
    ],
)
def test_it_answers_a_wrong_call_with_an_error_output(alice, alice_words, name, arguments):
    output = run(alice, name, arguments)
    assert isinstance(output["error"], str) and output["error"]
    assert not WordProgress.objects.exists()


def test_it_refuses_arguments_that_are_not_a_string(alice, alice_words):
    output = json.loads(tool_call_run(learner=alice, name="get_word_details", arguments_json={"word": "gato"}))
    assert output == {"error": "arguments must be a JSON string"}


def test_it_describes_a_word_and_the_learners_history_with_it(alice, alice_words):
    gato = alice_words.words.get(term="gato")
    gato.example = "El gato duerme."
    gato.part_of_speech = "noun"
    gato.save()
    run(alice, "record_word_practice", {"word": "gato", "outcome": "correct"})

    output = run(alice, "get_word_details", {"word": "Gato"})
    assert output == {
        "word": "gato",
        "meaning": "cat",
        "part_of_speech": "noun",
        "example": "El gato duerme.",
        "list": "Spanish basics",
        "state": "learning",
        "times_correct": 1,
        "times_incorrect": 0,
        "last_result": "correct",
    }


def test_a_call_relayed_twice_is_recorded_once(alice, alice_words, session):
    arguments = {"word": "gato", "outcome": "correct"}
    first = run(alice, "record_word_practice", arguments, session=session, call_id="call_abc")
    second = run(alice, "record_word_practice", arguments, session=session, call_id="call_abc")

    assert first == second
    assert WordProgress.objects.get(learner=alice, word__term="gato").correct_count == 1
    # Another call on the same word in the same session is history, not a second review.
    run(alice, "record_word_practice", arguments, session=session, call_id="call_def")
    assert WordProgress.objects.get(learner=alice, word__term="gato").correct_count == 1
    assert list(Review.objects.filter(word__term="gato").values_list("scheduled", flat=True)) == [False, True]


def test_a_call_is_run_once_whichever_process_the_resend_reaches(alice, alice_words, session):
    # The stored output is in the database, not in one process's memory.
    arguments = {"word": "gato", "outcome": "correct"}
    first = run(alice, "record_word_practice", arguments, session=session, call_id="call_abc")
    ToolCall.objects.filter(session=session, call_id="call_abc").update(output='{"from": "the table"}')
    assert run(alice, "record_word_practice", arguments, session=session, call_id="call_abc") == {"from": "the table"}
    assert first["recorded"] is True
    assert WordProgress.objects.get(learner=alice, word__term="gato").correct_count == 1


def test_a_run_that_loses_the_race_is_rolled_back_and_answers_with_the_winners_output(alice, alice_words, session):
    # Another process stored this call while ours was running: both passed the first check.
    ToolCall.objects.create(session=session, call_id="call_race", name="record_word_practice", output='{"winner": true}')
    with mock.patch("voice.tools.runner._stored_output", side_effect=[None, '{"winner": true}']):
        output = run(alice, "record_word_practice", {"word": "gato", "outcome": "correct"}, session=session, call_id="call_race")
    assert output == {"winner": True}
    assert not WordProgress.objects.filter(learner=alice, word__term="gato", correct_count__gt=0).exists()
    assert not Review.objects.filter(learner=alice).exists()


def test_a_failing_tool_answers_an_error_and_can_be_retried(alice, alice_words, session):
    with mock.patch("voice.tools.runner.term_practice_record", side_effect=RuntimeError("database gone")):
        output = run(alice, "record_word_practice", {"word": "gato", "outcome": "correct"}, session=session, call_id="call_x")
    assert "failed" in output["error"]

    output = run(alice, "record_word_practice", {"word": "gato", "outcome": "correct"}, session=session, call_id="call_x")
    assert output["recorded"] is True


HOSTILE = ["\x00", "\ud800", "a\udfffb", "\x00\ud83d"]


@pytest.mark.parametrize("bad", HOSTILE)
@pytest.mark.parametrize(
    "name, arguments",
    [
        ("{bad}", {"word": "gato"}),
        ("get_word_details{bad}", {"word": "gato"}),
        ("get_word_details", {"word": "ga{bad}to"}),
        ("record_word_practice", {"word": "gato", "outcome": "correct{bad}"}),
        ("record_word_practice", {"word": "gato", "outcome": "correct", "not{bad}e": 1}),
        ("record_quiz_answer", {"word": "{bad}", "outcome": "correct"}),
        ("get_word_details", {"word": "gato", "extra": ["{bad}"]}),
    ],
)
def test_characters_that_cannot_be_stored_get_an_error_output_and_store_nothing_broken(
    alice, alice_words, session, bad, name, arguments
):
    name = name.replace("{bad}", bad)
    arguments = json.loads(json.dumps(arguments).replace("{bad}", json.dumps(bad)[1:-1]))

    output = run(alice, name, json.dumps(arguments), session=session, call_id="call_1")

    assert set(output) == {"error"} and output["error"] != json.loads(TOOL_FAILED)["error"]
    assert not Review.objects.exists() and not WordProgress.objects.exists()
    assert all(storable(call.name) and storable(call.output) for call in ToolCall.objects.all())


def test_a_call_id_that_cannot_be_stored_is_refused(alice, alice_words, session):
    output = run(alice, "get_word_details", {"word": "gato"}, session=session, call_id="call\x00")
    assert "call_id" in output["error"] and not ToolCall.objects.exists()

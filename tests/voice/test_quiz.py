import json

import pytest

from tutor.models import OralQuiz, Review, TestResult, TutorSession
from voice.tools.quiz import QuizError, oral_quiz_answer, oral_quiz_finish, oral_quiz_start
from voice.tools.schemas import EXAMINER_TOOLS
from voice.tools.runner import tool_call_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def session(alice):
    return TutorSession.objects.create(learner=alice, model="gpt-realtime", voice="marin", instructions="Tutor says hi.")


def test_starting_hands_off_to_the_examiner_with_its_own_instructions_and_tools(alice, alice_words, session):
    output = oral_quiz_start(learner=alice, session=session)
    handoff = output["handoff"]
    assert handoff["persona"] == "examiner"
    assert handoff["session"]["type"] == "realtime"
    assert handoff["session"]["tools"] == EXAMINER_TOOLS
    focus_line = next(line for line in handoff["session"]["instructions"].splitlines() if line.startswith("Focus words: "))
    assert focus_line == "Focus words: " + ", ".join(OralQuiz.objects.get().words)
    assert output["words"] == 4  # alice has four words


def test_a_second_start_reuses_the_open_quiz(alice, alice_words, session):
    oral_quiz_start(learner=alice, session=session)
    oral_quiz_start(learner=alice, session=session)
    assert OralQuiz.objects.count() == 1


def test_answering_every_word_stores_a_voice_grade_and_hands_back(alice, alice_words, session):
    oral_quiz_start(learner=alice, session=session)
    words = OralQuiz.objects.get().words
    outcomes = ["correct", "incorrect", "correct", "hesitant"]
    for word, outcome in zip(words[:-1], outcomes[:-1]):
        output = oral_quiz_answer(learner=alice, session=session, word=word.upper(), outcome=outcome)
        assert "handoff" not in output
    output = oral_quiz_answer(learner=alice, session=session, word=words[-1], outcome=outcomes[-1])

    assert (output["score"], output["max_score"]) == (2, 4)
    assert output["handoff"]["persona"] == "tutor"
    assert output["handoff"]["session"]["instructions"] == "Tutor says hi."
    result = TestResult.objects.get()
    assert (result.source, result.score, result.max_score, result.word_list) == ("voice", 2, 4, alice_words)
    assert [d["outcome"] for d in result.details] == outcomes
    assert Review.objects.filter(source="voice", session=session).count() == 4


def test_an_answer_counts_once(alice, alice_words, session):
    oral_quiz_start(learner=alice, session=session)
    word = OralQuiz.objects.get().words[0]
    oral_quiz_answer(learner=alice, session=session, word=word, outcome="correct")
    oral_quiz_answer(learner=alice, session=session, word=word, outcome="incorrect")
    assert OralQuiz.objects.get().answers == {word: "correct"}
    assert Review.objects.count() == 1


def test_finishing_early_counts_unanswered_words_as_wrong(alice, alice_words, session):
    oral_quiz_start(learner=alice, session=session)
    word = OralQuiz.objects.get().words[0]
    oral_quiz_answer(learner=alice, session=session, word=word, outcome="correct")
    output = oral_quiz_finish(learner=alice, session=session)
    assert (output["score"], output["max_score"]) == (1, 4)
    assert TestResult.objects.get().details[1]["outcome"] == "unanswered"


def test_it_refuses_words_outside_the_quiz_and_answers_without_a_quiz(alice, alice_words, session):
    with pytest.raises(QuizError, match="no oral quiz"):
        oral_quiz_answer(learner=alice, session=session, word="gato", outcome="correct")
    oral_quiz_start(learner=alice, session=session)
    with pytest.raises(QuizError, match="not one of this quiz"):
        oral_quiz_answer(learner=alice, session=session, word="elefante", outcome="correct")


def test_a_learner_without_words_gets_an_error_output_not_a_crash(bob):
    session = TutorSession.objects.create(learner=bob, model="m", voice="v", instructions="")
    output = json.loads(tool_call_run(learner=bob, name="start_oral_quiz", arguments_json="{}", session=session))
    assert "no words" in output["error"]


def test_the_quiz_tools_run_through_the_tool_dispatcher(alice, alice_words, session):
    start = json.loads(tool_call_run(learner=alice, name="start_oral_quiz", arguments_json="{}", session=session, call_id="c1"))
    assert start["handoff"]["persona"] == "examiner"
    bad = json.loads(tool_call_run(learner=alice, name="record_quiz_answer", arguments_json='{"word": "gato", "outcome": "great"}', session=session))
    assert "outcome must be" in bad["error"]
    done = json.loads(tool_call_run(learner=alice, name="finish_oral_quiz", arguments_json="{}", session=session))
    assert done["quiz_finished"] is True
    assert json.loads(tool_call_run(learner=alice, name="start_oral_quiz", arguments_json="{}"))["error"]


def examiner_questions(instructions: str, answer_for):
    """Drive the stand-in's scripted examiner through a quiz: (asked word, question) pairs."""
    from standin.tutor_script import TutorScript
    from voice.tools.schemas import EXAMINER_TOOLS

    script = TutorScript()
    conversation = [{"type": "function_call", "name": "start_oral_quiz", "call_id": "c0"},
                    {"type": "function_call_output", "call_id": "c0", "output": "{}"}]
    asked = []
    for n in range(1, 5):
        reply = script.reply(instructions=instructions, tools=EXAMINER_TOOLS, tool_choice="auto", conversation=conversation)
        asked.append((script._current, reply.text))
        conversation.append({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": reply.text}]})
        conversation.append({"type": "message", "role": "user", "content": [{"type": "input_text", "text": answer_for(script._current)}]})
        call = script.reply(instructions=instructions, tools=EXAMINER_TOOLS, tool_choice="auto", conversation=conversation)
        assert call.tool_name == "record_quiz_answer"
        asked[-1] += (json.loads(call.arguments),)
        conversation += [{"type": "function_call", "name": call.tool_name, "call_id": f"c{n}", "arguments": call.arguments},
                         {"type": "function_call_output", "call_id": f"c{n}", "output": "{}"}]
    return asked


def contains_word(text: str, word: str) -> bool:
    from common.text import text_fold

    folded = [text_fold(token) for token in text.split()]
    wanted = text_fold(word).split()
    return any(folded[i : i + len(wanted)] == wanted for i in range(len(folded)))


def test_the_examiner_asks_by_meaning_and_never_says_the_answer(alice, alice_words, session):
    # A meaning that holds the word itself must not give it away either.
    gato = alice_words.words.get(term="gato")
    gato.meaning, gato.example = "cat (el Gato)", "El gato duerme."
    gato.save()
    handoff = oral_quiz_start(learner=alice, session=session)["handoff"]
    instructions = handoff["session"]["instructions"]
    assert "never say" in instructions.lower() and "Clues: " in instructions
    clues = next(line for line in instructions.splitlines() if line.startswith("Clues: "))
    for word in OralQuiz.objects.get().words:
        assert not contains_word(clues, word)
    questions = examiner_questions(instructions, answer_for=lambda word: f"Digo {word} ahora")
    assert sorted(word for word, _, _ in questions) == sorted(OralQuiz.objects.get().words)
    for word, question, arguments in questions:
        assert "'" in question and not contains_word(question, word), question
        assert arguments == {"word": word, "outcome": "correct"}


def test_a_wrong_answer_to_the_stand_in_examiner_is_recorded_incorrect(alice, alice_words, session):
    instructions = oral_quiz_start(learner=alice, session=session)["handoff"]["session"]["instructions"]
    questions = examiner_questions(instructions, answer_for=lambda word: "no me acuerdo")
    assert {arguments["outcome"] for _, _, arguments in questions} == {"incorrect"}


def test_each_quiz_answer_is_one_rating_on_its_word(alice, alice_words, session):
    oral_quiz_start(learner=alice, session=session)
    words = OralQuiz.objects.get().words
    for word, outcome in zip(words, ["correct", "hesitant", "incorrect", "correct"]):
        oral_quiz_answer(learner=alice, session=session, word=word, outcome=outcome)
    ratings = dict(Review.objects.filter(session=session).values_list("word__term", "rating"))
    assert [ratings[w] for w in words] == [3, 2, 1, 3]

import datetime as dt
import re

import pytest

from standin.config import client_secret_request_parse
from standin.tutor_script import focus_words as standin_focus_words
from voice.instructions import MAX_FOCUS_WORDS, MAX_INSTRUCTIONS_CHARS, tutor_plan_build
from tutor.models import Assignment, TestResult, Word, WordList, WordProgress

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.timezone.utc)
FOCUS_LINE = re.compile(r"^Focus words: (.+)$", re.MULTILINE)


def progress(learner, word, *, days_until_due, interval_days=1, result="correct", misses=0):
    return WordProgress.objects.create(
        learner=learner,
        word=word,
        repetitions=2,
        interval_days=interval_days,
        difficulty=5.0 + misses,
        due_at=NOW + dt.timedelta(days=days_until_due),
        last_result=result,
        incorrect_count=misses,
        last_reviewed_at=NOW - dt.timedelta(days=1),
    )


@pytest.fixture
def mixed_progress(alice, alice_words):
    words = {word.term: word for word in alice_words.words.all()}
    progress(alice, words["perro"], days_until_due=-1)  # due
    progress(alice, words["casa"], days_until_due=3, result="incorrect", misses=2)  # weak
    progress(alice, words["gato"], days_until_due=20, interval_days=30)  # mastered
    return words  # agua stays new


def focus_line(instructions: str) -> str:
    lines = FOCUS_LINE.findall(instructions)
    assert len(lines) == 1
    return lines[0]


def test_it_puts_due_and_weak_words_first_then_new_then_revision(alice, mixed_progress):
    plan = tutor_plan_build(learner=alice, now=NOW)

    assert plan.focus_words == ["perro", "casa", "agua", "gato"]
    assert "\nFocus words: perro, casa, agua, gato\n" in plan.instructions
    assert "- casa (other): house [often missed]" in plan.instructions


def test_its_focus_line_reads_back_the_same_words_in_the_standin(alice, mixed_progress):
    plan = tutor_plan_build(learner=alice, now=NOW)
    assert standin_focus_words(plan.instructions) == plan.focus_words


def test_it_builds_the_same_plan_from_the_same_data(alice, mixed_progress):
    assert tutor_plan_build(learner=alice, now=NOW) == tutor_plan_build(learner=alice, now=NOW)


def test_it_speaks_of_the_learners_languages_level_and_name(alice, alice_words):
    alice.native_language = "de"
    alice.save()
    instructions = tutor_plan_build(learner=alice, now=NOW).instructions
    assert "Spanish tutor" in instructions
    assert 'The learner, "Alice", is practising Spanish at CEFR level A2' in instructions
    assert "native language is German" in instructions


def test_it_never_uses_the_email_address_as_a_name(bob):
    bob.display_name = ""
    bob.save()
    assert "bob" not in tutor_plan_build(learner=bob, now=NOW).instructions.lower()


def test_it_gives_a_learner_without_words_or_grades_a_beginners_conversation(bob):
    plan = tutor_plan_build(learner=bob, now=NOW)

    assert plan.focus_words == []
    assert "Focus words:" not in plan.instructions
    assert "no assigned words yet" in plan.instructions
    assert "No test grades yet." in plan.instructions
    assert "CEFR level A1" in plan.instructions


def test_it_reports_recent_grades_and_slows_down_for_a_struggling_learner(alice, alice_words):
    for day, score in enumerate([3, 4, 5, 6]):
        TestResult.objects.create(
            learner=alice, word_list=alice_words, score=score, max_score=10,
            taken_at=NOW - dt.timedelta(days=10 - day),
        )
    instructions = tutor_plan_build(learner=alice, now=NOW).instructions
    assert (
        "Recent test grades, newest first: 6/10 (60%) on Spanish basics; "
        "5/10 (50%) on Spanish basics; 4/10 (40%) on Spanish basics." in instructions
    )
    assert "struggling" in instructions


def test_it_ignores_other_learners_words_and_progress(alice, bob, alice_words):
    other = WordList.objects.create(name="Bob's French", language="fr")
    Word.objects.create(word_list=other, term="chat", meaning="cat")
    Assignment.objects.create(learner=bob, word_list=other)
    progress(bob, alice_words.words.get(term="gato"), days_until_due=-5)

    assert tutor_plan_build(learner=alice, now=NOW).focus_words == ["gato", "perro", "casa", "agua"]
    assert tutor_plan_build(learner=bob, now=NOW).focus_words == ["chat"]


def test_it_names_a_term_shared_by_two_lists_once_and_leaves_out_terms_with_commas(alice, alice_words):
    more = WordList.objects.create(name="More Spanish", language="es")
    Word.objects.create(word_list=more, term="Gato", meaning="cat")
    Word.objects.create(word_list=more, term="sí, claro", meaning="yes, of course")
    Assignment.objects.create(learner=alice, word_list=more)

    plan = tutor_plan_build(learner=alice, now=NOW)
    assert [term.lower() for term in plan.focus_words].count("gato") == 1
    assert "sí, claro" not in plan.focus_words
    assert standin_focus_words(plan.instructions) == plan.focus_words


@pytest.fixture
def huge_vocabulary(alice):
    word_list = WordList.objects.create(name="L" * 120, language="es")
    Assignment.objects.create(learner=alice, word_list=word_list)
    Word.objects.bulk_create(
        Word(word_list=word_list, term=f"{i:03d}" + "t" * 117, meaning="m" * 255, example="e" * 500,
             part_of_speech="adjective", position=i)
        for i in range(300)
    )
    words = list(word_list.words.order_by("position"))
    WordProgress.objects.bulk_create(
        WordProgress(learner=alice, word=word, repetitions=1, interval_days=1 if i % 3 else 40,
                     due_at=NOW + dt.timedelta(days=(-1) ** i * i), last_reviewed_at=NOW,
                     last_result="incorrect" if i % 5 == 0 else "correct", incorrect_count=i % 4)
        for i, word in enumerate(words[:200])
    )
    for i in range(5):
        TestResult.objects.create(learner=alice, word_list=word_list, score=i, max_score=10)
    return word_list


def test_its_size_is_bounded_whatever_the_data(alice, huge_vocabulary):
    alice.display_name = "A" * 80
    alice.save()
    plan = tutor_plan_build(learner=alice, now=NOW)

    assert 0 < len(plan.focus_words) <= MAX_FOCUS_WORDS
    assert len(plan.instructions) <= MAX_INSTRUCTIONS_CHARS
    assert focus_line(plan.instructions).split(", ") == plan.focus_words


def test_it_caps_the_focus_words(alice, spanish):
    Assignment.objects.create(learner=alice, word_list=spanish)
    Word.objects.bulk_create(
        Word(word_list=spanish, term=f"palabra{i:02d}", meaning=f"word {i}", position=10 + i)
        for i in range(40)
    )
    plan = tutor_plan_build(learner=alice, now=NOW)
    assert len(plan.focus_words) == MAX_FOCUS_WORDS
    assert plan.focus_words[:4] == ["gato", "perro", "casa", "agua"]


def test_its_query_count_does_not_grow_with_the_vocabulary(
    alice, alice_words, huge_vocabulary, django_assert_num_queries
):
    with django_assert_num_queries(6):  # the material's five, and when the next word falls due
        tutor_plan_build(learner=alice, now=NOW)
    with django_assert_num_queries(0):  # then from the cache
        tutor_plan_build(learner=alice, now=NOW)


def test_a_small_vocabulary_needs_the_same_queries(alice, alice_words, django_assert_num_queries):
    with django_assert_num_queries(6):
        tutor_plan_build(learner=alice, now=NOW)
    with django_assert_num_queries(0):
        tutor_plan_build(learner=alice, now=NOW)


def test_it_builds_the_ga_session_config(alice, alice_words, settings):
    settings.REALTIME_MODEL = "gpt-realtime-mini"
    settings.REALTIME_VOICE = "cedar"
    settings.REALTIME_TRANSCRIBE_MODEL = "gpt-4o-transcribe"
    plan = tutor_plan_build(learner=alice, now=NOW)
    config = plan.session_config

    assert config["type"] == "realtime"
    assert config["model"] == "gpt-realtime-mini"
    assert config["instructions"] == plan.instructions
    assert config["output_modalities"] == ["audio"]
    assert config["audio"]["input"]["transcription"] == {"model": "gpt-4o-transcribe", "language": "es"}
    assert config["audio"]["input"]["turn_detection"]["type"] == "server_vad"
    assert config["audio"]["output"] == {"voice": "cedar"}
    assert config["tool_choice"] == "auto"
    # The learner's transcript tokens with their logprobs: how clearly each word was said.
    assert config["include"] == ["item.input_audio_transcription.logprobs"]
    assert [tool["name"] for tool in config["tools"]] == ["record_word_practice", "get_word_details", "start_oral_quiz"]
    assert all(tool["type"] == "function" and "function" not in tool for tool in config["tools"])


def test_the_standin_accepts_its_session_config(alice, mixed_progress):
    config = tutor_plan_build(learner=alice, now=NOW).session_config
    ttl, session = client_secret_request_parse(
        {"expires_after": {"anchor": "created_at", "seconds": 60}, "session": config}
    )
    assert ttl == 60
    assert session["instructions"] == config["instructions"]
    assert session["include"] == ["item.input_audio_transcription.logprobs"]
    assert [tool["name"] for tool in session["tools"]] == ["record_word_practice", "get_word_details", "start_oral_quiz"]


def test_the_plan_is_kept_whole_until_what_it_depends_on_changes(alice, alice_words, django_assert_num_queries, monkeypatch):
    import voice.instructions as instructions

    first = tutor_plan_build(learner=alice)
    renders = []
    real_render = instructions.tutor_plan_render
    monkeypatch.setattr(
        instructions, "tutor_plan_render", lambda **kwargs: renders.append(1) or real_render(**kwargs)
    )
    with django_assert_num_queries(0):
        again = tutor_plan_build(learner=alice)
    assert renders == []  # neither read nor rendered: the plan came from the cache
    assert again == first
    # The learner's own fields are part of what the plan says: another level, another plan.
    alice.cefr_level = "B2"
    alice.save()
    changed = tutor_plan_build(learner=alice)
    assert renders == [1]
    assert "B2" in changed.instructions and changed.instructions != first.instructions
    # Practice changes the material: the plan is rendered afresh.
    gato = alice_words.words.get(term="gato")
    WordProgress.objects.create(learner=alice, word=gato, repetitions=1, last_result="incorrect", incorrect_count=3)
    tutor_plan_build(learner=alice)
    assert renders == [1, 1]


def test_a_changed_model_setting_is_never_served_an_old_plan(alice, alice_words, settings):
    before = tutor_plan_build(learner=alice)
    settings.REALTIME_VOICE = "cedar"
    after = tutor_plan_build(learner=alice)
    assert before.session_config["audio"]["output"]["voice"] != "cedar"
    assert after.session_config["audio"]["output"]["voice"] == "cedar"

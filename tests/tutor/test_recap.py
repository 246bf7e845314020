import datetime as dt

import pytest

from tutor.models import TutorSession, Word, WordList, WordProgress
from tutor.practice import word_practice_record
from tutor.recap import practised_counts, said_in, session_recap

pytestmark = pytest.mark.django_db
NOW = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


@pytest.fixture
def session(alice, alice_words):
    Word.objects.create(word_list=alice_words, term="pájaro", meaning="bird", position=4)
    return TutorSession.objects.create(
        learner=alice,
        model="gpt-realtime",
        voice="marin",
        instructions="",
        status=TutorSession.Status.ENDED,
        focus_words=["gato", "perro", "casa", "pájaro"],
        connected_at=NOW - dt.timedelta(minutes=7, seconds=30),
        ended_at=NOW,
    )


def say(session, text, *, role="user", order=0):
    return session.items.create(item_id=f"item_{order}", role=role, text=text, order=order)


def terms(words):
    return [word.term for word in words]


@pytest.mark.parametrize(
    ("term", "text", "found"),
    [
        ("gato", "Tengo un gato negro.", True),
        ("gato", "¡GATO!", True),
        ("pájaro", "veo un pajaro", True),
        ("gato", "los gatos", False),
        ("casa", "casamiento", False),
        ("buenos días", "Hola, buenos   días a todos", True),
        ("¿qué tal?", "y que tal tu", True),
        ("猫", "猫が好きです", True),
        ("", "anything", False),
    ],
)
def test_words_are_matched_whole_ignoring_case_and_accents(term, text, found):
    assert said_in(term, text) is found


def test_it_counts_words_from_tool_calls_and_from_what_the_learner_said(alice, session):
    word_practice_record(
        learner=alice, word=Word.objects.get(term="perro"), outcome="correct", source="voice", session=session, now=NOW
    )
    say(session, "Mi gato duerme", order=0)
    say(session, "Your casa is nice", role="assistant", order=1)  # the tutor saying it doesn't count

    recap = session_recap(session=session, now=NOW)

    assert terms(recap.practised) == ["gato", "perro"]
    gato, perro = recap.practised
    assert (gato.heard, gato.outcome, gato.meaning) == (True, "", "cat")
    assert (perro.heard, perro.outcome) == (False, "correct")
    assert terms(recap.missed) == []  # nothing tried was wrong
    assert terms(recap.not_reached) == ["casa", "pájaro"]
    assert recap.minutes == 7.5 and not recap.in_progress


def test_a_word_recorded_incorrect_is_missed_even_if_said(alice, session):
    gato = Word.objects.get(term="gato")
    word_practice_record(learner=alice, word=gato, outcome="correct", source="voice", session=session, now=NOW)
    word_practice_record(learner=alice, word=gato, outcome="incorrect", source="voice", session=session, now=NOW)
    say(session, "gato")
    recap = session_recap(session=session, now=NOW)
    assert "gato" in terms(recap.practised) and recap.practised[0].outcome == "incorrect"
    assert recap.practised[0].attempts == 2
    assert terms(recap.missed) == ["gato"]
    assert "gato" not in terms(recap.not_reached)


def test_reviews_from_flashcards_or_other_sessions_do_not_count(alice, session):
    other = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    perro = Word.objects.get(term="perro")
    word_practice_record(learner=alice, word=perro, outcome="correct", source="voice", session=other, now=NOW)
    word_practice_record(learner=alice, word=perro, outcome="correct", source="flashcard", now=NOW)
    assert "perro" not in terms(session_recap(session=session, now=NOW).practised)


def test_next_up_lists_what_comes_due_soonest_first_and_when(alice, session, alice_words):
    agua, gato = Word.objects.get(term="agua"), Word.objects.get(term="gato")
    WordProgress.objects.create(
        learner=alice, word=agua, last_reviewed_at=NOW - dt.timedelta(days=2), due_at=NOW - dt.timedelta(hours=1)
    )
    word_practice_record(learner=alice, word=gato, outcome="incorrect", source="voice", session=session, now=NOW)
    say(session, "gato y perro")
    recap = session_recap(session=session, now=NOW)
    assert [(item.term, item.when) for item in recap.next_up] == [("agua", "now"), ("gato", "in 1 min")]
    assert recap.next_up[0].meaning == "water"
    assert terms(recap.not_reached) == ["casa", "pájaro"]


def test_next_up_is_bounded(alice, session, alice_words):
    for i in range(12):
        word = Word.objects.create(word_list=alice_words, term=f"palabra{i}", meaning=f"word {i}", position=10 + i)
        WordProgress.objects.create(learner=alice, word=word, last_reviewed_at=NOW, due_at=NOW - dt.timedelta(days=1))
    assert len(session_recap(session=session, now=NOW).next_up) == 8


def test_the_quiz_score_and_speaking_time_are_in_the_recap(alice, session, alice_words):
    from voice.tools.quiz import oral_quiz_answer, oral_quiz_finish, oral_quiz_start

    recap = session_recap(session=session, now=NOW)
    assert recap.quizzes == [] and recap.speaking_minutes is None
    oral_quiz_start(learner=alice, session=session, now=NOW)
    for word, outcome in zip(["gato", "perro", "casa", "agua"], ["correct", "incorrect", "correct", "correct"]):
        oral_quiz_answer(learner=alice, session=session, word=word, outcome=outcome, now=NOW)
    oral_quiz_finish(learner=alice, session=session, now=NOW)  # pájaro unanswered
    session.speaking_seconds = 0.0
    recap = session_recap(session=session, now=NOW)
    assert [(q.score, q.max_score) for q in recap.quizzes] == [(3, 5)]
    assert terms(recap.missed) == ["perro"]
    assert recap.speaking_minutes == 0.0
    session.speaking_seconds = 135.0
    assert session_recap(session=session, now=NOW).speaking_minutes == 2.2


def test_a_live_session_counts_its_minutes_so_far(alice, session):
    session.status, session.ended_at = TutorSession.Status.LIVE, None
    recap = session_recap(session=session, now=NOW)
    assert recap.minutes == 7.5 and recap.in_progress


def test_a_session_that_never_connected_has_no_minutes_and_no_focus_junk(alice):
    session = TutorSession.objects.create(
        learner=alice, model="m", voice="v", instructions="", focus_words=["", 3, None, " gato "]
    )
    recap = session_recap(session=session, now=NOW)
    assert recap.minutes is None
    assert recap.focus_words == ["gato"] and terms(recap.not_reached) == ["gato"] and not recap.missed


def test_focus_words_no_longer_in_the_lists_still_show(alice, session, alice_words):
    WordList.objects.filter(pk=alice_words.pk).delete()
    recap = session_recap(session=session, now=NOW)
    assert terms(recap.not_reached) == ["gato", "perro", "casa", "pájaro"]
    assert all(word.meaning == "" for word in recap.not_reached)


def test_it_takes_a_fixed_number_of_queries(alice, session, django_assert_max_num_queries):
    for i in range(10):
        say(session, f"gato {i}", order=i)
    session = TutorSession.objects.select_related("learner").get(pk=session.pk)
    with django_assert_max_num_queries(5):
        session_recap(session=session, now=NOW)


def test_practised_counts_match_the_recaps_for_many_sessions_in_two_queries(
    alice, session, django_assert_num_queries
):
    other = TutorSession.objects.create(
        learner=alice, model="m", voice="v", instructions="", focus_words=["agua", "casa"]
    )
    empty = TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")
    word_practice_record(
        learner=alice, word=Word.objects.get(term="perro"), outcome="correct", source="voice", session=session, now=NOW
    )
    say(session, "mi gato, mi perro")
    say(other, "agua por favor")
    sessions = list(TutorSession.objects.filter(pk__in=[session.pk, other.pk, empty.pk]))

    with django_assert_num_queries(2):
        counts = practised_counts(sessions=sessions)

    assert counts == {session.pk: 2, other.pk: 1, empty.pk: 0}
    for each in sessions:
        assert counts[each.pk] == len(session_recap(session=each, now=NOW).practised)
    assert practised_counts(sessions=[]) == {}


def record(alice, session, term, *, clear, outcome="correct", at=NOW):
    word_practice_record(
        learner=alice, word=Word.objects.get(term=term), outcome=outcome, clear=clear, source="voice",
        session=session, now=at,
    )


def test_each_practised_word_says_whether_it_was_said_clearly(alice, session):
    record(alice, session, "gato", clear=True)
    record(alice, session, "perro", clear=False)
    record(alice, session, "casa", clear=None)
    say(session, "pájaro", order=0)  # said, never recorded: nothing known of its clarity

    practised = {w.term: w.clarity for w in session_recap(session=session, now=NOW).practised}
    assert practised == {"gato": "clear", "perro": "unclear", "casa": "", "pájaro": ""}


def test_the_recording_that_moved_the_schedule_decides_the_clarity(alice, session):
    record(alice, session, "gato", clear=False)
    record(alice, session, "gato", clear=True, at=NOW + dt.timedelta(seconds=5))  # history only
    record(alice, session, "perro", clear=None)
    record(alice, session, "perro", clear=True, at=NOW + dt.timedelta(seconds=5))  # the first known

    practised = {w.term: (w.clear, w.attempts) for w in session_recap(session=session, now=NOW).practised}
    assert practised["gato"] == (False, 2) and practised["perro"] == (True, 2)


def test_a_quiz_answer_on_a_word_already_recorded_is_graded_but_said_not_to_reschedule(alice, session):
    from tutor.models import OralQuiz
    from voice.tools.quiz import oral_quiz_answer, oral_quiz_start

    # Missed a few minutes ago, so it is due again and the quiz asks for it.
    record(alice, session, "gato", clear=True, outcome="incorrect", at=NOW - dt.timedelta(minutes=5))
    due = WordProgress.objects.get(learner=alice, word__term="gato").due_at
    oral_quiz_start(learner=alice, session=session, now=NOW)
    quiz = OralQuiz.objects.get(session=session)
    assert "gato" in quiz.words
    for word in quiz.words:
        oral_quiz_answer(learner=alice, session=session, word=word, outcome="correct", now=NOW)

    recap = session_recap(session=session, now=NOW)
    assert [(q.score, q.max_score) for q in recap.quizzes] == [(len(quiz.words), len(quiz.words))]
    flags = {w.term: w.quiz_unscheduled for w in recap.practised}
    assert flags["gato"] is True
    assert not any(flag for term, flag in flags.items() if term != "gato")
    assert WordProgress.objects.get(learner=alice, word__term="gato").due_at == due

import math

import pytest

from tutor.clarity import (
    MAX_TOKENS,
    is_clear,
    logprobs_clean,
    session_term_clear,
    term_confidence,
    word_confidences,
)
from tutor.models import TutorSession

LN_HALF = math.log(0.5)


def tokens(*pairs):
    """OpenAI's logprobs shape: ``{token, logprob, bytes}``."""
    return [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in pairs]


def test_a_word_made_of_several_tokens_has_the_probability_of_all_of_them():
    logprobs = tokens(("the", 0.0), (" word", 0.0), (" is", 0.0), (" g", LN_HALF), ("ato", LN_HALF))
    words = word_confidences(logprobs)
    assert [w for w, _ in words] == ["the", "word", "is", "gato"]
    assert words[-1][1] == pytest.approx(0.25)
    assert term_confidence(logprobs, "gato") == pytest.approx(0.25)


def test_words_are_found_by_the_folding_rule():
    logprobs = tokens(("¡", 0.0), ("Pá", LN_HALF), ("jaro", 0.0), ("!", 0.0))
    assert term_confidence(logprobs, "pájaro") == pytest.approx(0.5)
    assert term_confidence(logprobs, "PAJARO") == pytest.approx(0.5)


def test_a_token_spanning_two_words_counts_for_both():
    logprobs = tokens(("buenos d", LN_HALF), ("ías", 0.0))
    assert dict(word_confidences(logprobs)) == {"buenos": pytest.approx(0.5), "dias": pytest.approx(0.5)}


def test_a_phrase_counts_by_its_least_clear_word_and_a_repeat_by_its_clearest_saying():
    logprobs = tokens(("buenos", math.log(0.9)), (" días", math.log(0.6)), (" gato", math.log(0.3)),
                      (" gato", math.log(0.8)))
    assert term_confidence(logprobs, "buenos días") == pytest.approx(0.6)
    assert term_confidence(logprobs, "gato") == pytest.approx(0.8)


def test_a_word_not_in_the_transcript_or_a_part_of_a_word_is_unknown():
    logprobs = tokens(("los", 0.0), (" gatos", 0.0))
    assert term_confidence(logprobs, "gato") is None
    assert term_confidence(logprobs, "perro") is None
    assert term_confidence(logprobs, "") is None
    assert term_confidence(logprobs, "¡!") is None


@pytest.mark.parametrize(
    "logprobs",
    [
        None,
        [],
        "gato",
        {"token": "gato", "logprob": 0.0},
        [None],
        [{"token": "gato"}],
        [{"logprob": -0.1}],
        [{"token": 7, "logprob": -0.1}],
        [{"token": "gato", "logprob": "-0.1"}],
        [{"token": "gato", "logprob": True}],
        [{"token": "gato", "logprob": float("nan")}],
        [{"token": "gato", "logprob": float("-inf")}],
        [{"token": "gato", "logprob": 0.5}],  # a probability above 1
        [{"token": "ga\x00to", "logprob": -0.1}],
        [{"token": "\ud800", "logprob": -0.1}],
        [{"token": "g" * 10_000, "logprob": -0.1}],
    ],
)
def test_malformed_logprobs_give_unknown_clarity(logprobs):
    assert logprobs_clean(logprobs) is None
    assert word_confidences(logprobs) is None
    assert term_confidence(logprobs, "gato") is None


def test_a_huge_list_is_refused_and_the_largest_allowed_one_is_read():
    just_enough = tokens(*[(" gato", 0.0)] * MAX_TOKENS)
    assert term_confidence(just_enough, "gato") == pytest.approx(1.0)
    assert term_confidence(just_enough + tokens((" gato", 0.0)), "gato") is None
    assert term_confidence([{"token": " gato", "logprob": 0.0}] * 1_000_000, "gato") is None


def test_very_unlikely_tokens_give_a_confidence_near_zero_not_an_error():
    assert term_confidence(tokens(("gato", -10_000.0)), "gato") == 0.0


def test_clear_is_at_or_above_the_threshold(settings):
    settings.TUTOR_CLARITY_THRESHOLD = 0.6
    assert is_clear(0.6) is True
    assert is_clear(0.59) is False
    assert is_clear(None) is None
    assert is_clear(0.3, threshold=0.2) is True


@pytest.mark.django_db
class TestSessionTermClear:
    @pytest.fixture
    def session(self, alice):
        return TutorSession.objects.create(learner=alice, model="m", voice="v", instructions="")

    def said(self, session, item_id, text, confidence, *, verified=True, role="user"):
        logprobs = tokens(*[(f" {w}", math.log(confidence)) for w in text.split()])
        session.items.create(
            item_id=item_id, role=role, text=text, verified=verified,
            raw={"type": "message", "source": "sideband" if verified else "page", "logprobs": logprobs},
        )

    def test_it_reads_the_verified_turn_that_has_the_word(self, session, settings):
        settings.TUTOR_CLARITY_THRESHOLD = 0.5
        self.said(session, "a", "the word is gato", 0.9)
        self.said(session, "b", "i like the perro", 0.2)
        assert session_term_clear(session=session, term="gato") is True
        assert session_term_clear(session=session, term="Perro") is False
        assert session_term_clear(session=session, term="casa") is None

    def test_the_latest_turn_with_the_word_counts(self, session, settings):
        settings.TUTOR_CLARITY_THRESHOLD = 0.5
        self.said(session, "a", "gato", 0.9)
        self.said(session, "b", "gato", 0.1)
        assert session_term_clear(session=session, term="gato") is False

    def test_the_pages_copy_and_the_tutors_words_are_not_evidence(self, session, settings, bob):
        settings.TUTOR_CLARITY_THRESHOLD = 0.5
        self.said(session, "a", "gato", 0.99, verified=False)
        self.said(session, "b", "gato", 0.99, role="assistant")
        other = TutorSession.objects.create(learner=bob, model="m", voice="v", instructions="")
        self.said(other, "c", "gato", 0.99)
        assert session_term_clear(session=session, term="gato") is None
        assert session_term_clear(session=None, term="gato") is None

    def test_a_verified_turn_without_logprobs_is_unknown(self, session):
        session.items.create(item_id="a", role="user", text="gato", verified=True, raw={"source": "sideband"})
        session.items.create(item_id="b", role="user", text="gato", verified=True, raw=["not", "a", "dict"])
        assert session_term_clear(session=session, term="gato") is None

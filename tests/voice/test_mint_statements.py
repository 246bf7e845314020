"""A key mint (``POST /tutor/token/``) takes at most five SQL statements, whatever the size of
the learner's vocabulary: the session and the user (authentication), the learner's row locked,
the limits read, the new session inserted. The plan comes from the cache."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest
import respx
from allauth.account.models import EmailAddress
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tutor.models import Assignment, TestResult, TutorSession, Word, WordList, WordProgress

pytestmark = pytest.mark.django_db

STANDIN_SECRETS = "http://testserver/standin/v1/realtime/client_secrets"
GOOD = {"value": "ek_browser_key", "expires_at": 1767225600, "session": {"type": "realtime"}}
MAX_STATEMENTS = 5
SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@pytest.fixture
def upstream(settings):
    settings.REALTIME_BASE_URL = ""
    settings.STANDIN_API_KEY = "sk-standin-test-key-42"
    settings.OPENAI_API_KEY = ""
    settings.TUTOR_MAX_LIVE_SESSIONS = 10
    settings.TUTOR_MAX_SESSION_MINUTES = 1
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"  # as in production: the address is checked too
    with respx.mock(assert_all_called=False) as router:
        yield router.post(STANDIN_SECRETS).mock(return_value=httpx.Response(200, json=GOOD))


def vocabulary(learner, words: int) -> None:
    word_list = WordList.objects.create(name=f"{words} words", language="es")
    Assignment.objects.create(learner=learner, word_list=word_list)
    Word.objects.bulk_create(
        Word(word_list=word_list, term=f"w{n:05d}", meaning=f"m{n}", position=n) for n in range(words)
    )
    WordProgress.objects.bulk_create(
        WordProgress(
            learner=learner, word=word, repetitions=1, last_result="incorrect", incorrect_count=1,
            last_reviewed_at=timezone.now() - dt.timedelta(days=1), due_at=timezone.now() + dt.timedelta(days=1),
        )
        for word in list(word_list.words.all())[: words * 9 // 10]
    )
    for score in range(3):
        TestResult.objects.create(learner=learner, word_list=word_list, score=score, max_score=10)


def mint_statements(client) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.post("/tutor/token/", data=b"", content_type="application/json")
    assert response.status_code == 200, response.content
    # The test's own transaction turns the mint's into a savepoint: not a statement in production.
    return [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(SAVEPOINTS)]


def learner_client(client, learner):
    learner.daily_voice_minutes = 60
    learner.save()
    EmailAddress.objects.create(user=learner, email=learner.email, verified=True, primary=True)
    client.force_login(learner)
    return client


@pytest.mark.parametrize("words", [10, 3000])
def test_a_mint_takes_at_most_five_statements(client, alice, upstream, words):
    vocabulary(alice, words)
    learner_client(client, alice)
    mint_statements(client)  # the first builds the plan and fills the cache
    statements = mint_statements(client)
    assert len(statements) <= MAX_STATEMENTS, "\n".join(statements)
    assert TutorSession.objects.filter(learner=alice).count() == 2


def test_the_count_is_the_same_for_10_and_3000_words(client, alice, bob, upstream):
    vocabulary(alice, 10)
    vocabulary(bob, 3000)
    counts = []
    for learner in (alice, bob):
        learner_client(client, learner)
        mint_statements(client)
        counts.append(len(mint_statements(client)))
    assert counts[0] == counts[1] <= MAX_STATEMENTS


def test_after_practice_the_plan_is_read_again_and_changes(client, alice, upstream):
    vocabulary(alice, 10)
    learner_client(client, alice)
    mint_statements(client)
    before = TutorSession.objects.filter(learner=alice).latest("minted_at").focus_words
    progress = WordProgress.objects.filter(learner=alice, word__term=before[0]).get()
    progress.incorrect_count = 0
    progress.last_result = "correct"
    progress.save()
    assert len(mint_statements(client)) > MAX_STATEMENTS  # the material was read afresh
    after = TutorSession.objects.filter(learner=alice).latest("minted_at").focus_words
    assert after != before


RESUME_STATEMENTS = 9


@pytest.mark.parametrize("words", [10, 3000])
def test_a_resume_takes_nine_statements_whatever_the_vocabulary(client, alice, upstream, words):
    """A reconnect's key: authentication (2), the learner's row locked, the session read with
    its row locked and checked, the limits read, the session's key count updated and the mint
    recorded (5), then what was said so far and the focus words' meanings (2). Above the five
    of a new session, but pinned so it does not grow."""
    import json

    vocabulary(alice, words)
    learner_client(client, alice)
    mint_statements(client)
    session = TutorSession.objects.filter(learner=alice).latest("minted_at")
    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            "/tutor/token/", data=json.dumps({"session_id": session.pk}), content_type="application/json"
        )
    assert response.status_code == 200, response.content
    assert response.json()["session_id"] == session.pk
    statements = [q["sql"] for q in queries.captured_queries if not q["sql"].startswith(SAVEPOINTS)]
    assert len(statements) == RESUME_STATEMENTS, "\n".join(statements)

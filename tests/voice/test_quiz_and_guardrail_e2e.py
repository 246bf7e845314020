"""The oral-quiz handoff and the output guardrail on the real page, in Chromium."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async

from tests.support.daphne import daphne_running
from tests.voice.test_voice_session_e2e import (
    TIMEOUT_MS,
    make_learner,
    mute,
    saved_turns,
    screenshot,
    signed_in_tutor_page,
    start_session,
    type_message,
)
from common.text import text_fold
from tutor.models import ConversationItem, OralQuiz, TestResult
from tutor.progress import learner_words_by_term
from voice.tools.quiz import quiz_clue

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def answer_for_clue(learner, words, clue):
    return next(
        word for word in words if quiz_clue(learner_words_by_term(learner=learner, term=word)[0]) == clue
    )


EXAMINER_QUESTION_AFTER = """(answered) => {
  const questions = [...document.querySelectorAll("li.turn-assistant[data-saved=true]")]
    .filter((li) => li.querySelector(".who").textContent === "Examiner")
    .map((li) => li.querySelector(".text").textContent)
    .filter((text) => /'[^']+'/.test(text));
  return questions.length > answered ? questions[questions.length - 1] : null;
}"""


async def test_the_examiner_quizzes_the_words_and_the_grade_is_saved(chromium, daphne_server):
    learner = await make_learner()
    page = await signed_in_tutor_page(chromium, daphne_server.base_url)
    await start_session(page)
    await mute(page)
    await saved_turns(page, "li.turn-assistant")

    await page.click('[data-action="quiz"]')
    await page.wait_for_selector('#tutor[data-persona="examiner"]', timeout=TIMEOUT_MS)
    assert (await page.text_content("[data-persona-badge]")).strip() == "Examiner"
    quiz = await sync_to_async(OralQuiz.objects.get)(session__learner=learner)

    for answered in range(len(quiz.words)):
        # The examiner's latest saved question (a turn that names a word in quotes), once there
        # is one more than the answers given.
        question = await page.wait_for_function(
            EXAMINER_QUESTION_AFTER, arg=answered, timeout=TIMEOUT_MS
        )
        text = await question.json_value()
        clue = re.findall(r"'([^']+)'", text)[-1]  # the clue of the word asked for last
        asked = await sync_to_async(answer_for_clue)(learner, quiz.words, clue)
        assert text_fold(asked) not in text_fold(text).split(), text  # a recall test
        await type_message(page, f"Digo la palabra {asked} en una frase")
        await saved_turns(page, '[data-kind="function_call_output"]', answered + 1)

    try:
        await page.wait_for_selector('#tutor[data-persona="tutor"]', timeout=TIMEOUT_MS)
    except Exception:
        print("TRANSCRIPT", await page.inner_text("[data-transcript]"), await page.text_content("[data-notice]"))
        raise
    notice = await page.text_content("[data-notice]")
    assert f"Oral quiz finished: {len(quiz.words)}/{len(quiz.words)}" in notice
    await screenshot(page, "tutor-oral-quiz")

    result = await sync_to_async(TestResult.objects.get)(learner=learner)
    assert (result.source, result.score, result.max_score) == ("voice", len(quiz.words), len(quiz.words))
    assert page.errors == []


@pytest.fixture(scope="module")
def guarded_server(django_db_setup, django_db_blocker):
    """A server whose policy blocks the stand-in's own greeting, so the filter must trip."""
    env = {"REALTIME_STANDIN": "on", "OPENAI_API_KEY": "", "GUARDRAIL_BLOCKED_TERMS": "offline stand-in"}
    with daphne_running(env=env) as server:
        yield server


@pytest.fixture
async def quiet_chromium(playwright_async, tmp_path):
    """Chromium whose fake microphone hears silence: no speech barges in on the greeting, so
    the greeting always reaches the blocked term however slow the machine is."""
    import subprocess

    from tests.support.browser import chromium_launch

    wav = tmp_path / "silence.wav"
    subprocess.run(["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", str(wav), "trim", "0", "5"], check=True)
    browser = await chromium_launch(playwright_async, wav)
    yield browser
    await browser.close()


async def test_the_guardrail_stops_a_reply_flags_it_and_tells_the_learner(quiet_chromium, guarded_server):
    chromium = quiet_chromium
    await make_learner()
    page = await signed_in_tutor_page(chromium, guarded_server.base_url)
    await start_session(page)

    flagged = page.locator("li.turn-assistant.flagged")
    await flagged.first.wait_for(timeout=TIMEOUT_MS)
    assert await flagged.first.locator(".text").text_content() == "(withheld by the safety filter)"
    notice = await page.text_content("[data-notice]")
    assert "safety filter" in notice
    item_id = await flagged.first.get_attribute("data-item-id")
    await screenshot(page, "tutor-guardrail")

    await page.wait_for_function(
        "(id) => document.querySelector(`li[data-item-id='${id}']`).dataset.saved === 'true'", arg=item_id, timeout=TIMEOUT_MS
    )
    item = await sync_to_async(ConversationItem.objects.get)(item_id=item_id)
    assert item.flagged and "offline stand-in" in item.flag_reason
    assert "offline stand-in" in item.text  # staff see what was said

"""Clarity from what the server saw on the call: the sideband keeps the learner's transcript
logprobs on the verified item, and the tutor's and examiner's recordings are rated by them."""

from __future__ import annotations

import json
import math

import pytest
from channels.db import database_sync_to_async

from tests.voice.test_sideband import function_call, live, watcher  # noqa: F401 (fixture)
from tutor.models import ConversationItem, OralQuiz, Review
from voice.items import conversation_item_save

pytestmark = pytest.mark.django_db(transaction=True)
COMPLETED = "conversation.item.input_audio_transcription.completed"


def logprobs(text, probability):
    return [
        {"token": token, "logprob": math.log(probability), "bytes": list(token.encode())}
        for token in [w if i == 0 else f" {w}" for i, w in enumerate(text.split())]
    ]


def transcript(text, probability=None, item_id="item_u", raw_logprobs=None):
    event = {"type": COMPLETED, "item_id": item_id, "content_index": 0, "transcript": text,
             "usage": {"type": "duration", "seconds": 1.0}}
    if probability is not None:
        event["logprobs"] = logprobs(text, probability)
    if raw_logprobs is not None:
        event["logprobs"] = raw_logprobs
    return event


def page_copy(session, text, probability, item_id="item_u"):
    return database_sync_to_async(conversation_item_save)(
        session=session, item_id=item_id, role="user", kind="message", text=text,
        raw={"type": "message", "source": "sideband", "logprobs": logprobs(text, probability)},
    )


async def recorded(session):
    return [
        (rating, clear)
        async for rating, clear in Review.objects.filter(session=session).order_by("pk").values_list("rating", "clear")
    ]


@pytest.fixture(autouse=True)
def threshold(settings):
    settings.TUTOR_CLARITY_THRESHOLD = 0.5


@pytest.mark.parametrize(("probability", "expected"), [(0.9, (3, True)), (0.2, (2, False))])
async def test_the_tutors_recording_is_rated_by_how_clearly_the_call_heard_the_word(live, probability, expected):
    watch, _ = watcher(live)
    await watch.handle(transcript("the word is gato", probability))
    await watch.handle(function_call())

    assert await recorded(live) == [expected]
    item = await ConversationItem.objects.aget(session=live, item_id="item_u")
    assert item.verified and len(item.raw["logprobs"]) == 4


async def test_a_call_without_logprobs_leaves_clarity_unknown(live):
    watch, _ = watcher(live)
    await watch.handle(transcript("the word is gato"))
    await watch.handle(function_call())

    assert await recorded(live) == [(3, None)]


async def test_the_pages_logprobs_are_replaced_by_what_the_server_saw(live):
    await page_copy(live, "gato", 0.01)  # the page's claim, sent first
    watch, _ = watcher(live)
    await watch.handle(transcript("gato", 0.95))
    await page_copy(live, "gato", 0.01)  # and again, after the server saw the item
    await watch.handle(function_call())

    assert await recorded(live) == [(3, True)]


async def test_the_pages_logprobs_alone_are_not_evidence(live):
    await page_copy(live, "gato", 0.01)
    watch, _ = watcher(live)
    await watch.handle(function_call())

    assert await recorded(live) == [(3, None)]
    # Nor do they survive the server's own copy of the turn, which had none.
    await watch.handle(transcript("gato"))
    item = await ConversationItem.objects.aget(session=live, item_id="item_u")
    assert item.verified and "logprobs" not in item.raw


@pytest.mark.parametrize(
    "bad", ["gato", [{"token": "gato", "logprob": 3}], [{"token": "ga\x00to", "logprob": -0.1}],
            [{"token": "gato", "logprob": -0.1}] * 5_000],
)
async def test_malformed_logprobs_from_the_call_are_not_kept(live, bad):
    watch, _ = watcher(live)
    await watch.handle(transcript("gato", raw_logprobs=bad))
    await watch.handle(function_call())

    item = await ConversationItem.objects.aget(session=live, item_id="item_u")
    assert item.text == "gato" and "logprobs" not in item.raw
    assert await recorded(live) == [(3, None)]


async def test_a_quiz_answer_is_rated_by_clarity_too(live):
    watch, _ = watcher(live)
    await watch.handle(function_call(name="start_oral_quiz", arguments="{}", call_id="call_q", item_id="fc_q"))
    quiz = await OralQuiz.objects.aget(session=live)
    word = quiz.words[0]
    await watch.handle(transcript(f"the word is {word}", 0.1, item_id="item_q"))
    await watch.handle(function_call(
        name="record_quiz_answer", call_id="call_a", item_id="fc_a",
        arguments=json.dumps({"word": word, "outcome": "correct"}),
    ))

    assert await recorded(live) == [(2, False)]

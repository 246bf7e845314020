"""Black-box, against a running daphne with the stand-in and the sideband on: a spoken focus word
reaches the server's sideband with the transcription's logprobs, and the tutor's recording of it
is rated by how clearly the call heard it.

The caller is aiortc (tests/standin/rtc.py) with espeak-ng's voice on its microphone.
"""

from __future__ import annotations

import subprocess

import pytest

from tests.standin.rtc import RealtimeCaller
from tests.support.clarity import tools_missing
from tests.voice.test_sideband_e2e import call_reported, learner, server, signed_in, wait_until  # noqa: F401 (fixtures)
from tutor.clarity import is_clear, term_confidence
from tutor.models import ConversationItem, Review, TutorSession

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.browser,
    pytest.mark.skipif(tools_missing() is not None, reason=tools_missing() or ""),
]
COMPLETED = "conversation.item.input_audio_transcription.completed"


def spoken(text: str) -> bytes:
    """48 kHz mono int16 PCM of ``text`` with a second of silence either side."""
    wav = subprocess.run(["espeak-ng", "-v", "en-us", "--stdout", text], capture_output=True, check=True).stdout
    pcm = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "raw", "-r", "48000", "-c", "1", "-b", "16", "-e", "signed", "-"],
        input=wav, capture_output=True, check=True,
    ).stdout
    silence = bytes(48000 * 2)
    return silence + pcm + silence


async def test_a_spoken_word_is_rated_by_the_clarity_the_sideband_heard(server, learner):
    client = await signed_in(server.base_url)
    grant = (await client.post("/tutor/token/", headers={"X-CSRFToken": client.cookies["csrftoken"]})).json()
    caller = RealtimeCaller(audio=True)
    socket = None
    try:
        call_id, socket = await call_reported(client, server, grant, caller)
        session_id = grant["session_id"]
        await wait_until(lambda: TutorSession.objects.get(pk=session_id).sideband_joined_at)

        caller.microphone.play(spoken("the word is gato"))
        completed = await caller.wait_for(COMPLETED, after=0, timeout=30)
        # The page gets the logprobs too, in OpenAI's shape; the server uses its own copy.
        assert completed["logprobs"] and set(completed["logprobs"][0]) == {"token", "logprob", "bytes"}

        review = await wait_until(
            lambda: Review.objects.filter(session_id=session_id, source="voice").select_related("word").first(),
            timeout=30,
        )
        item = await ConversationItem.objects.aget(session_id=session_id, item_id=completed["item_id"])
        assert item.verified and item.raw["logprobs"]
        assert review.clear is not None
        assert review.clear is is_clear(term_confidence(item.raw["logprobs"], review.word.term))
    finally:
        if socket is not None:
            await socket.close()
        await caller.close()
        await client.aclose()

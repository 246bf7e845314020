"""Real headless Chromium against the stand-in under daphne: typed, voice and function-call turns."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from pathlib import Path

import httpx
import pytest
from django.conf import settings

from tests.standin.helpers import INSTRUCTIONS, RECORD_WORD_PRACTICE
from tests.support.browser import chromium_launch

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PAGE_DIR = Path(__file__).parent / "page"
TIMEOUT_MS = 15_000


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def page_url():
    """The test page, served from http://127.0.0.1:PORT (a secure context, so getUserMedia exists)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(PAGE_DIR)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


def mint(base_url: str, session: dict) -> str:
    response = httpx.post(
        f"{base_url}/standin/v1/realtime/client_secrets",
        json={"expires_after": {"anchor": "created_at", "seconds": 60}, "session": session},
        headers={"Authorization": f"Bearer {settings.STANDIN_API_KEY}"},
    )
    assert response.status_code == 200, response.text
    return response.json()["value"]


async def open_page(browser, page_url, daphne_server, *, session: dict, microphone: bool):
    page = await browser.new_page()
    page.on("console", lambda message: print("page:", message.text))
    await page.goto(page_url)
    key = mint(daphne_server.base_url, session)
    await page.evaluate(
        "args => connect(args)",
        {"url": f"{daphne_server.base_url}/standin/v1/realtime/calls", "key": key, "microphone": microphone},
    )
    await page.wait_for_function("window.has('session.created')", timeout=TIMEOUT_MS)
    return page


async def wait_for_event(page, event_type: str, since: int = 0, where: str = "true"):
    """The first event of ``event_type`` after index ``since`` for which the JS expression ``where`` (on ``e``) holds."""
    script = f"([t, s]) => window.events.slice(s).find(e => e.type === t && ({where})) || null"
    handle = await page.wait_for_function(script, arg=[event_type, since], timeout=TIMEOUT_MS)
    return await handle.json_value()


async def events(page) -> list[dict]:
    return await page.evaluate("window.events")


@pytest.fixture
async def quiet_chromium(playwright_async):
    browser = await chromium_launch(playwright_async)
    yield browser
    await browser.close()


async def test_a_typed_turn_gets_a_complete_spoken_response(quiet_chromium, page_url, daphne_server):
    page = await open_page(
        quiet_chromium, page_url, daphne_server, session={"type": "realtime", "instructions": INSTRUCTIONS}, microphone=False
    )
    await page.evaluate("e => send(e)", {"type": "session.update", "session": {"type": "realtime", "audio": {"output": {"voice": "cedar"}}}})
    updated = await wait_for_event(page, "session.updated")
    assert updated["session"]["audio"]["output"]["voice"] == "cedar"
    assert updated["session"]["instructions"] == INSTRUCTIONS

    mark = len(await events(page))
    await page.evaluate(
        "e => { send(e); send({type: 'response.create'}); }",
        {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Hola, tengo una casa"}]}},
    )
    done = await wait_for_event(page, "response.done", mark)
    stopped = await wait_for_event(page, "output_audio_buffer.stopped", mark)

    types = [e["type"] for e in (await events(page))[mark:]]
    for expected in (
        "conversation.item.added",
        "conversation.item.done",
        "response.created",
        "response.output_item.added",
        "response.content_part.added",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.done",
        "output_audio_buffer.started",
    ):
        assert expected in types, f"{expected} missing from {types}"
    assert done["response"]["status"] == "completed" and done["response"]["usage"]["total_tokens"] > 0
    transcript = done["response"]["output"][0]["content"][0]["transcript"]
    assert "'casa'" in transcript
    assert stopped["response_id"] == done["response"]["id"]
    audio = await page.evaluate("inboundAudio()")
    assert audio["packets"] > 50 and audio["energy"] > 0  # the tutor was heard, not just silence


async def test_a_function_call_round_trip(quiet_chromium, page_url, daphne_server):
    page = await open_page(
        quiet_chromium,
        page_url,
        daphne_server,
        session={"type": "realtime", "instructions": INSTRUCTIONS, "tools": [RECORD_WORD_PRACTICE], "output_modalities": ["text"]},
        microphone=False,
    )
    await page.evaluate(
        "e => { send(e); send({type: 'response.create'}); }",
        {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "El perro come"}]}},
    )
    call = await wait_for_event(page, "response.output_item.done", 0, "e.item.type === 'function_call'")
    assert call["item"]["name"] == "record_word_practice"
    assert json.loads(call["item"]["arguments"]) == {"word": "perro", "outcome": "correct"}
    await wait_for_event(page, "response.done")

    mark = len(await events(page))
    await page.evaluate(
        "callId => { send({type: 'conversation.item.create', item: {type: 'function_call_output', call_id: callId, output: '{\"ok\": true}'}}); send({type: 'response.create'}); }",
        call["item"]["call_id"],
    )
    answer = await wait_for_event(page, "response.output_text.done", mark)
    assert "'perro'" in answer["text"]
    assert (await wait_for_event(page, "response.done", mark))["response"]["status"] == "completed"


async def test_a_voice_turn_from_the_microphone(chromium, page_url, daphne_server):
    session = {
        "type": "realtime",
        "instructions": INSTRUCTIONS,
        "audio": {"input": {"transcription": {"model": "gpt-4o-mini-transcribe"}, "turn_detection": {"type": "server_vad", "silence_duration_ms": 600}}},
    }
    page = await open_page(chromium, page_url, daphne_server, session=session, microphone=True)

    started = await wait_for_event(page, "input_audio_buffer.speech_started")
    stopped = await wait_for_event(page, "input_audio_buffer.speech_stopped")
    completed = await wait_for_event(page, "conversation.item.input_audio_transcription.completed")

    assert started["item_id"] == stopped["item_id"] == completed["item_id"]
    assert stopped["audio_end_ms"] > started["audio_start_ms"]
    print("voice turn transcript:", completed["transcript"])
    assert "gato" in completed["transcript"]
    answer = await wait_for_event(page, "response.done")
    assert answer["response"]["status"] in ("completed", "cancelled")

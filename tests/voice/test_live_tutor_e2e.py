"""The live tutor page as a learner sees it, in Chromium at a laptop's and a phone's width,
against the stand-in: whose turn it is, a clean transcript with tool chips and ticked focus
words, interrupts that never alarm, the guardrail stopping audio that plays on after
``response.done``, and the whole page by keyboard alone.

Every test fails on console errors, horizontal overflow or raw JSON in the transcript, and
keeps a screenshot in ``artifacts/``.
"""

from __future__ import annotations

import asyncio
import re
import subprocess

import pytest

from tests.conftest import PASSWORD
from tests.support.browser import chromium_launch, speech_tools_missing_reason
from tests.support.daphne import daphne_running
from tests.voice.test_voice_session_e2e import TIMEOUT_MS, make_learner, saved_turns, screenshot, start_session

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"wide": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}

# Records, in the page itself, every Realtime event in and out of the data channel, and every
# turn and state the page shows (with whether "Quiz me" was enabled then).
RECORDER = """
(() => {
  const log = { got: [], sent: [], turns: [], states: [] };
  window.__rt = log;
  const create = RTCPeerConnection.prototype.createDataChannel;
  RTCPeerConnection.prototype.createDataChannel = function (...args) {
    const channel = create.apply(this, args);
    Object.defineProperty(log, "channel", { value: channel, enumerable: false, configurable: true });
    channel.addEventListener("message", (message) => {
      try {
        const e = JSON.parse(message.data);
        log.got.push({ type: e.type, status: e.response && e.response.status, code: e.error && e.error.code, id: e.response_id || (e.response && e.response.id) || null });
      } catch (_) {}
    });
    const send = channel.send.bind(channel);
    channel.send = (data) => {
      try { const e = JSON.parse(data); log.sent.push({ type: e.type, event_id: e.event_id, at: log.got.length }); } catch (_) {}
      return send(data);
    };
    return channel;
  };
  new MutationObserver(() => {
    const root = document.getElementById("tutor");
    if (!root) return;
    const turn = root.dataset.turn || "";
    if (log.turns[log.turns.length - 1] !== turn) log.turns.push(turn);
    const state = root.dataset.state || "";
    const last = log.states[log.states.length - 1];
    const quiz = root.querySelector('[data-action="quiz"]');
    if (!last || last.state !== state) log.states.push({ state, quizEnabled: Boolean(quiz && !quiz.disabled) });
    else if (quiz && !quiz.disabled) last.quizEnabled = true;
  }).observe(document, { subtree: true, attributes: true, attributeFilter: ["data-turn", "data-state", "disabled"] });
})();
"""

JSON_LIKE = re.compile(r'[{}]|"\w+"\s*:')


@pytest.fixture(scope="session")
def silent_wav(speech_dir):
    """Three seconds of silence: a microphone that never cuts the tutor off."""
    reason = speech_tools_missing_reason()
    if reason:
        pytest.skip(reason)
    speech_dir.mkdir(parents=True, exist_ok=True)
    target = speech_dir / "silence.wav"
    if not target.exists():
        subprocess.run(["sox", "-n", "-r", "48000", "-c", "1", "-b", "16", str(target), "trim", "0", "3"], check=True)
    return target


@pytest.fixture
async def quiet_chromium(playwright_async, silent_wav):
    """Chromium whose fake microphone is silent: the tutor is never interrupted by voice."""
    browser = await chromium_launch(playwright_async, silent_wav)
    yield browser
    await browser.close()


async def tutor_page(chromium, base_url: str, viewport: dict):
    page = await chromium.new_page(viewport=viewport)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    await page.add_init_script(RECORDER)
    await page.goto(f"{base_url}/accounts/login/")
    await page.fill("input[name=login]", "lena@example.com")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form button[type=submit]")
    await page.wait_for_url(f"{base_url}/")
    await page.goto(f"{base_url}/tutor/")
    page.errors = errors
    return page


async def log(page) -> dict:
    return await page.evaluate("() => window.__rt")


async def check_page(page, name: str) -> None:
    """No console errors, no horizontal overflow, no raw JSON where the learner reads; a screenshot."""
    await screenshot(page, name)
    overflow = await page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0, f"{name}: {overflow}px of horizontal overflow"
    spill = await page.evaluate(
        """() => { const c = document.querySelector(".controls"); const box = c.getBoundingClientRect();
          return Math.max(0, ...[...c.children].map((e) => e.getBoundingClientRect().right - box.right)); }"""
    )
    assert spill <= 0, f"{name}: the controls spill {spill}px out of their card"
    shown = await page.inner_text("[data-transcript]")
    assert not JSON_LIKE.search(shown), f"{name}: raw JSON in the transcript: {shown!r}"
    spoken = await page.text_content("[data-announcer]")
    assert not JSON_LIKE.search(spoken or ""), f"{name}: raw JSON in the live region: {spoken!r}"
    assert page.errors == [], page.errors


def in_order(sequence: list[str], wanted: list[str]) -> bool:
    """Whether ``wanted`` appears in ``sequence`` in this order, one right after the other."""
    return any(sequence[i : i + len(wanted)] == wanted for i in range(len(sequence)))


async def controls_on_one_row(page) -> bool:
    """Whether every control overlaps every other vertically (one row, however tall each is)."""
    return await page.eval_on_selector_all(
        ".controls > button, .controls > .meter",
        """els => {
          const boxes = els.map((e) => e.getBoundingClientRect());
          return Math.max(...boxes.map((b) => b.top)) < Math.min(...boxes.map((b) => b.bottom));
        }""",
    )


@pytest.mark.parametrize("width", WIDTHS)
async def test_a_voice_turn_shows_whose_turn_it_is_in_order(chromium, daphne_server, width):
    await make_learner()
    page = await tutor_page(chromium, daphne_server.base_url, WIDTHS[width])
    pill = await page.locator(".status").bounding_box()
    await start_session(page)
    await saved_turns(page, "li.turn-user")
    await saved_turns(page, "li.turn-assistant", 2)  # the greeting and the reply to the learner
    await page.click('[data-action="mute"]')  # the fake microphone speaks in a loop
    await page.wait_for_function("() => document.getElementById('tutor').dataset.turn === 'listening'", timeout=TIMEOUT_MS)

    recorded = await log(page)
    turns = recorded["turns"]
    assert in_order(turns, ["user-speaking", "thinking", "tutor-speaking"]), turns
    assert turns[-1] == "listening"
    got = [event["type"] for event in recorded["got"]]
    assert "input_audio_buffer.speech_started" in got and "output_audio_buffer.started" in got
    # Every client event carried its own event_id.
    ids = [event["event_id"] for event in recorded["sent"]]
    assert ids and all(ids) and len(set(ids)) == len(ids)
    # "Quiz me" stayed off until the session was live.
    assert all(not entry["quizEnabled"] for entry in recorded["states"] if entry["state"] == "connecting"), recorded["states"]
    # The indicator's words are a polite live region; the pill kept its line.
    indicator = page.locator("[data-turn-text]")
    assert await indicator.get_attribute("aria-live") == "polite"
    assert await indicator.text_content() == "Listening"
    assert abs((await page.locator(".status").bounding_box())["y"] - pill["y"]) < 2
    # The mic meter says its level.
    meter = page.locator("[role=meter]")
    assert (await meter.get_attribute("aria-valuemin"), await meter.get_attribute("aria-valuemax")) == ("0", "100")
    assert 0 <= int(await meter.get_attribute("aria-valuenow")) <= 100
    assert await controls_on_one_row(page)
    # Turns in the target language say so.
    assert await page.locator("li.turn .text:not([lang=es])").count() == 0
    await check_page(page, f"tutor-turns-{width}")


@pytest.mark.parametrize("width", WIDTHS)
async def test_a_focus_word_turn_shows_a_chip_and_a_tick_and_no_json(quiet_chromium, daphne_server, width):
    await make_learner()
    page = await tutor_page(quiet_chromium, daphne_server.base_url, WIDTHS[width])
    focus = page.locator('[data-focus-term="gato"]')
    assert await focus.locator("[lang=es]").text_content() == "gato"
    await start_session(page)
    await page.click('[data-action="mute"]')

    await page.fill("#typed-message", "Mi gato es negro")
    await page.press("#typed-message", "Enter")
    chip = page.locator("li.activity.practised")
    await chip.first.wait_for(timeout=TIMEOUT_MS)
    assert (await chip.first.locator(".activity-label").inner_text()).strip() == "✓ gato practised"
    await page.wait_for_selector('[data-focus-term="gato"].practised', timeout=TIMEOUT_MS)
    await saved_turns(page, '[data-kind="function_call_output"]')
    await page.wait_for_function(
        "() => [...document.querySelectorAll('li.turn-assistant[data-saved=true]')].some(li => li.textContent.includes('gato'))",
        timeout=TIMEOUT_MS,
    )
    assert await page.locator('li.turn[data-kind^="function"]').count() == 0  # never a turn
    # "Saved: N turns" counts the turns, not the tool activity.
    saved = int(await page.text_content("[data-saved-count]"))
    assert saved == await page.locator("li.turn[data-saved=true]").count()
    assert await page.locator("[data-kind^=function][data-saved=true]").count() >= 2
    assert await page.text_content("[data-focus-practised]") == "1"

    # The meaning on tap; the raw call and output behind the chip's details.
    await focus.locator("button").click()
    assert await focus.locator(".focus-meaning").is_visible()
    assert await focus.locator("button").get_attribute("aria-expanded") == "true"
    assert await focus.locator(".focus-meaning").text_content() == "cat"
    await check_page(page, f"tutor-focus-word-{width}")
    await chip.first.locator("summary").click()
    raw = await chip.first.locator(".activity-raw").inner_text()
    assert "record_word_practice" in raw and "next_review_in_days" in raw


@pytest.fixture(scope="module")
def slow_server(django_db_setup, django_db_blocker):
    """A stand-in whose replies stream slowly, so a response is still in progress while it plays."""
    with daphne_running(env={"REALTIME_STANDIN": "on", "OPENAI_API_KEY": "", "STANDIN_PACE_SECONDS": "0.5"}) as server:
        yield server


RUNNING_AND_PLAYING = """() => {
  const types = window.__rt.got.map((e) => e.type);
  return types.lastIndexOf("response.created") > types.lastIndexOf("response.done")
    && document.getElementById("tutor").dataset.turn === "tutor-speaking";
}"""


async def interrupt_now(page) -> int:
    """Press Interrupt; the index in the sent log where its events start."""
    before = len((await log(page))["sent"])
    await page.click('[data-action="interrupt"]')
    return before


async def test_interrupt_during_a_reply_cancels_it_and_stops_its_audio_without_a_notice(quiet_chromium, slow_server):
    await make_learner()
    page = await tutor_page(quiet_chromium, slow_server.base_url, WIDTHS["wide"])
    await start_session(page)
    await page.click('[data-action="mute"]')
    # A reply streams slowly and plays as it streams: it is still in progress while heard.
    await page.wait_for_function(RUNNING_AND_PLAYING, timeout=TIMEOUT_MS)
    start = await interrupt_now(page)

    await page.wait_for_function(
        "() => window.__rt.got.some(e => e.type === 'response.done' && e.status === 'cancelled')", timeout=TIMEOUT_MS
    )
    await page.wait_for_function("() => window.__rt.got.some(e => e.type === 'output_audio_buffer.cleared')", timeout=TIMEOUT_MS)
    await page.wait_for_selector("#tutor[data-turn=listening]", timeout=TIMEOUT_MS)
    recorded = await log(page)
    assert [event["type"] for event in recorded["sent"][start:]] == ["response.cancel", "output_audio_buffer.clear"]
    assert [event for event in recorded["got"] if event["type"] == "error"] == []
    assert await page.locator("[data-notice]").is_hidden()
    assert await page.locator('[data-action="interrupt"]').is_disabled()  # nothing left to stop
    await check_page(page, "tutor-interrupt-during")


async def test_interrupt_after_response_done_only_clears_the_audio_and_shows_no_error(quiet_chromium, daphne_server):
    await make_learner()
    page = await tutor_page(quiet_chromium, daphne_server.base_url, WIDTHS["phone"])
    await start_session(page)
    await page.click('[data-action="mute"]')
    # The greeting's response is done long before its audio has played (as with OpenAI).
    await page.wait_for_function(
        "() => window.__rt.got.some(e => e.type === 'response.done') && document.getElementById('tutor').dataset.turn === 'tutor-speaking'",
        timeout=TIMEOUT_MS,
    )
    assert await page.locator('[data-action="interrupt"]').is_enabled()
    start = await interrupt_now(page)
    await page.wait_for_function("() => window.__rt.got.some(e => e.type === 'output_audio_buffer.cleared')", timeout=TIMEOUT_MS)
    await page.wait_for_selector("#tutor[data-turn=listening]", timeout=5000)

    recorded = await log(page)
    assert [event["type"] for event in recorded["sent"][start:]] == ["output_audio_buffer.clear"]  # no cancel: none running
    stopped = [event for event in recorded["got"] if event["type"] == "output_audio_buffer.stopped"]
    assert stopped == [], "the audio was cleared, it did not play to its end"
    assert await page.locator("[data-notice]").is_hidden()
    assert await page.locator('[data-action="interrupt"]').is_disabled()

    # A typed turn still gets its answer after the interrupt.
    await page.fill("#typed-message", "Hola")
    await page.press("#typed-message", "Enter")
    await saved_turns(page, "li.turn-assistant", 2)
    assert await page.locator("[data-notice]").is_hidden()
    await check_page(page, "tutor-interrupt-after")


async def test_an_expected_error_is_logged_and_an_unexpected_one_is_shown_in_plain_words(quiet_chromium, daphne_server):
    await make_learner()
    page = await tutor_page(quiet_chromium, daphne_server.base_url, WIDTHS["wide"])
    logged: list[str] = []
    page.on("console", lambda m: logged.append(m.text) if m.type == "info" else None)
    await start_session(page)
    await page.click('[data-action="mute"]')
    await page.wait_for_selector("#tutor[data-turn=listening]", timeout=TIMEOUT_MS)

    # A cancel that finds no response (one that raced the reply's end): logged, not shown.
    await page.evaluate("() => window.__rt.channel.send(JSON.stringify({ type: 'response.cancel', event_id: 'evt_race' }))")
    await page.wait_for_function("() => window.__rt.got.some(e => e.type === 'error')", timeout=TIMEOUT_MS)
    await page.wait_for_timeout(200)
    assert await page.locator("[data-notice]").is_hidden()
    assert any("response_cancel_not_active" in text for text in logged), logged

    # A malformed event is a real fault: the learner hears of it.
    await page.evaluate("() => window.__rt.channel.send(JSON.stringify({ type: 'conversation.item.create', event_id: 'evt_bad' }))")
    notice = page.locator("[data-notice]")
    await notice.wait_for(state="visible", timeout=TIMEOUT_MS)
    assert "The voice service reported:" in await notice.text_content()
    page.errors.clear()  # the page warns about it in the console, as it should
    await check_page(page, "tutor-error-notice")


@pytest.fixture(scope="module")
def guarded_server(django_db_setup, django_db_blocker):
    """A server whose policy blocks the stand-in's own greeting, so the filter must trip. The
    page's own check is under test here (the fast path, delayed past response.done), so the
    server does not watch the call: its sideband would cancel the reply first."""
    env = {"REALTIME_STANDIN": "on", "OPENAI_API_KEY": "", "GUARDRAIL_BLOCKED_TERMS": "offline stand-in", "REALTIME_SIDEBAND": "off"}
    with daphne_running(env=env) as server:
        yield server


async def test_a_guardrail_trip_after_response_done_stops_the_audio(quiet_chromium, guarded_server):
    await make_learner()
    page = await tutor_page(quiet_chromium, guarded_server.base_url, WIDTHS["wide"])

    # The verdict reaches the page only after the reply's response.done, as it can when the
    # check is slow; the audio is still playing then.
    async def route(ws):
        server = ws.connect_to_server()

        def to_page(message):
            if '"guardrail"' in message or '"flagged": true' in message or '"flagged":true' in message:
                asyncio.get_running_loop().call_later(1.0, ws.send, message)
            else:
                ws.send(message)

        ws.on_message(lambda message: server.send(message))
        server.on_message(to_page)

    await page.route_web_socket("**/ws/tutor/sessions/**", route)
    await page.reload()
    await start_session(page)
    await page.click('[data-action="mute"]')
    flagged = page.locator("li.turn-assistant.flagged")
    await flagged.first.wait_for(timeout=TIMEOUT_MS)
    await page.wait_for_function("() => window.__rt.got.some(e => e.type === 'output_audio_buffer.cleared')", timeout=TIMEOUT_MS)

    recorded = await log(page)
    got = [event["type"] for event in recorded["got"]]
    clear = next(event for event in recorded["sent"] if event["type"] == "output_audio_buffer.clear")
    assert got.index("response.done") < clear["at"], "the verdict came after response.done"
    assert "output_audio_buffer.stopped" not in got[: clear["at"]], "the audio was still playing"
    assert "output_audio_buffer.stopped" not in got, "it was cleared, not played to its end"
    await page.wait_for_selector("#tutor[data-turn=listening]", timeout=5000)
    notice = await page.text_content("[data-notice]")
    assert "safety filter" in notice and "reported" not in notice
    await check_page(page, "tutor-guardrail-after-done")


async def tab_to(page, selector: str, *, backwards: bool = False, limit: int = 40) -> None:
    """Press Tab (or Shift+Tab) until ``selector`` has the focus."""
    for _ in range(limit):
        if await page.evaluate("(sel) => document.activeElement && document.activeElement.matches(sel)", selector):
            return
        await page.keyboard.press("Shift+Tab" if backwards else "Tab")
    raise AssertionError(f"{selector} never got the focus by keyboard")


@pytest.mark.parametrize("width", WIDTHS)
async def test_the_whole_tutor_page_works_by_keyboard_alone(quiet_chromium, daphne_server, width):
    await make_learner()
    page = await tutor_page(quiet_chromium, daphne_server.base_url, WIDTHS[width])

    await tab_to(page, '[data-action="start"]')
    await page.keyboard.press("Enter")
    await page.wait_for_selector('#tutor[data-state="live"]', timeout=TIMEOUT_MS)
    await tab_to(page, '[data-action="mute"]')
    await page.keyboard.press("Space")
    assert await page.get_attribute('[data-action="mute"]', "aria-pressed") == "true"
    await saved_turns(page, "li.turn-assistant")

    await tab_to(page, '[data-focus-term="gato"] button')
    await page.keyboard.press("Enter")
    assert await page.locator('[data-focus-term="gato"] .focus-meaning').is_visible()

    await tab_to(page, "#typed-message")
    await page.keyboard.type("Hola, ¿qué tal?")
    await page.keyboard.press("Enter")
    await page.wait_for_selector("li.turn-user[data-saved=true]", timeout=TIMEOUT_MS)
    # The reply plays: Interrupt is on, reached backwards from the message box.
    await page.wait_for_selector('[data-action="interrupt"]:not([disabled])', timeout=TIMEOUT_MS)
    await tab_to(page, '[data-action="interrupt"]', backwards=True)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#tutor[data-turn=listening]", timeout=TIMEOUT_MS)
    assert await page.locator("[data-notice]").is_hidden()

    await tab_to(page, '[data-action="end"]')
    await page.keyboard.press("Enter")
    await page.wait_for_selector('#tutor[data-state="ended"]', timeout=TIMEOUT_MS)
    recap = page.locator("[data-notice] a[data-recap-link]")
    await recap.wait_for(timeout=TIMEOUT_MS)
    await check_page(page, f"tutor-keyboard-{width}")

    # The recap link, by keyboard too; its transcript has turns only, in the target language.
    await tab_to(page, "[data-notice] a[data-recap-link]", backwards=True)
    await page.keyboard.press("Enter")
    await page.wait_for_selector("[data-recap]", timeout=TIMEOUT_MS)
    shown = await page.inner_text(".transcript-static")
    assert not JSON_LIKE.search(shown), shown
    assert await page.locator(".transcript-static li.turn .text:not([lang=es])").count() == 0
    overflow = await page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0
    await screenshot(page, f"session-recap-{width}")
    assert page.errors == []

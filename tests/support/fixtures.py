"""Pytest fixtures for end-to-end tests: a daphne server, headless Chromium, a speech WAV.

Load with ``pytest_plugins = ["tests.support.fixtures"]`` in ``tests/conftest.py``.
"""

from __future__ import annotations

import pytest

from tests.support.browser import (
    chromium_launch,
    chromium_missing_reason,
    speech_tools_missing_reason,
    speech_wav as make_speech_wav,
)
from tests.support.daphne import daphne_running

SPEECH_TEXT = "the word is gato"


@pytest.fixture(scope="session")
def daphne_server(request, django_db_setup, django_db_blocker):
    """The whole app (and the Realtime stand-in) under daphne, on the test database.

    Session-wide: tests that need their writes seen by it, or its writes seen by them, use
    ``transactional_db``. Its log is printed when a test failed while it ran.
    """
    failed_before = request.session.testsfailed
    with daphne_running(env={"REALTIME_STANDIN": "on", "OPENAI_API_KEY": ""}) as server:
        yield server
        if request.session.testsfailed > failed_before:
            print(f"\n----- daphne log ({server.base_url}) -----\n{server.log()[-20000:]}")


@pytest.fixture(scope="session")
def speech_dir(tmp_path_factory):
    return tmp_path_factory.getbasetemp() / "speech"


@pytest.fixture(scope="session")
def speech_wav(speech_dir):
    """48 kHz mono 16-bit WAV of ``SPEECH_TEXT`` for Chromium's fake microphone."""
    reason = speech_tools_missing_reason()
    if reason:
        pytest.skip(reason)
    return make_speech_wav(SPEECH_TEXT, speech_dir)


@pytest.fixture
async def playwright_async():
    reason = chromium_missing_reason()
    if reason:
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        yield playwright


@pytest.fixture
async def chromium(playwright_async, speech_wav):
    """Headless Debian Chromium whose fake microphone loops ``speech_wav``."""
    browser = await chromium_launch(playwright_async, speech_wav)
    yield browser
    await browser.close()

import sys

import pytest

from tests.standin.helpers import SERVER_KEY

if "tests.support.fixtures" not in sys.modules:
    # Until tests/conftest.py loads it with pytest_plugins: daphne_server, chromium, speech_wav.
    from tests.support.fixtures import *  # noqa: F401,F403


@pytest.fixture
def standin_settings(settings):
    """The stand-in mounted in-process with a known server key and defaults."""
    settings.ROOT_URLCONF = "tests.standin.urls"
    settings.STANDIN_API_KEY = SERVER_KEY
    settings.REALTIME_MODEL = "gpt-realtime"
    settings.REALTIME_VOICE = "marin"
    return settings


@pytest.fixture
async def no_calls_left():
    """Ends whatever call a test left running, and checks the registry is empty afterwards."""
    from standin.webrtc import CALLS, calls_close_all

    yield CALLS
    await calls_close_all()
    assert CALLS == {}

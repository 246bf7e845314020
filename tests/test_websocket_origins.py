"""A WebSocket is opened only from the site's own origin: scheme, host and port."""

from __future__ import annotations

import pytest
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.testing import WebsocketCommunicator

from config.origins import websocket_origin_validator

# Channels closes stale database connections around each consumer call, so the sockets here
# touch the database connection even though nothing is stored.
pytestmark = pytest.mark.django_db


class Accepting(AsyncWebsocketConsumer):
    async def connect(self):
        await self.accept()


async def connects(origin: str | None, host: str = "parlance.example") -> bool:
    app = websocket_origin_validator(Accepting.as_asgi())
    headers = [(b"host", host.encode())] + ([(b"origin", origin.encode())] if origin else [])
    communicator = WebsocketCommunicator(app, "/ws/", headers=headers)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


@pytest.fixture
def production(settings):
    settings.DEBUG = False
    settings.ALLOWED_HOSTS = ["parlance.example"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://parlance.example"]


async def test_production_accepts_its_own_origin(production):
    assert await connects("https://parlance.example")
    assert await connects("https://parlance.example:443")


@pytest.mark.parametrize(
    "origin",
    [
        "http://parlance.example",  # another scheme
        "https://parlance.example:8443",  # another port
        "https://evil.example",
        "https://parlance.example.evil.example",
        None,
    ],
)
async def test_production_refuses_other_origins(production, origin):
    assert not await connects(origin)


async def test_a_wildcard_trusted_origin_covers_subdomains_only_on_its_scheme(settings):
    settings.ALLOWED_HOSTS = [".parlance.example"]
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.parlance.example"]
    assert await connects("https://eu.parlance.example", host="eu.parlance.example")
    assert not await connects("http://eu.parlance.example", host="eu.parlance.example")


@pytest.mark.parametrize("origin", ["http://localhost:8000", "http://127.0.0.1:50123"])
async def test_development_accepts_local_pages_on_any_port(settings, origin):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]
    settings.CSRF_TRUSTED_ORIGINS = []
    assert await connects(origin, host="127.0.0.1")


async def test_development_refuses_a_foreign_host(settings):
    settings.DEBUG = True
    settings.ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
    settings.CSRF_TRUSTED_ORIGINS = []
    assert not await connects("http://evil.example", host="127.0.0.1")

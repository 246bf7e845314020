"""What a browser sees when it opens a conversation socket, through Channels' test communicator."""

from __future__ import annotations

from channels.testing import WebsocketCommunicator

OPEN = (True, None)


async def socket_connect(communicator: WebsocketCommunicator, *, timeout: float = 5) -> tuple:
    """``(True, None)`` for a socket that stays open, ``(False, code)`` for one the server
    closed: during the handshake (a browser sees 1006 then) or right after accepting it (the
    browser sees ``code``). The server refuses by accepting and then closing."""
    connected, code = await communicator.connect(timeout=timeout)
    if not connected:
        return (False, code)
    if await communicator.receive_nothing(timeout=0.05):
        return OPEN
    output = await communicator.receive_output(timeout=timeout)
    if output["type"] == "websocket.close":
        return (False, output.get("code"))
    raise AssertionError(f"the socket sent {output!r} before any message")

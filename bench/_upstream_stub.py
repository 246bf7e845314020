"""A stand-in for the Realtime API's key endpoint, as small and fast as it gets.

Answers every POST (after reading its body) with a fresh ``ek_`` key, like
``/v1/realtime/client_secrets``. Run: ``python bench/_upstream_stub.py PORT``.
"""

import asyncio
import json
import secrets
import sys
import time


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if length:
                await reader.readexactly(length)
            body = json.dumps(
                {
                    "value": "ek_" + secrets.token_hex(16),
                    "expires_at": int(time.time()) + 60,
                    "session": {"type": "realtime"},
                }
            ).encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
                + body
            )
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))

"""A stand-in for the Realtime API's key endpoint, as small and fast as it gets.

Answers every POST (after reading its body) with a fresh ``ek_`` key, like
``/v1/realtime/client_secrets``, at once or after DELAY_MS milliseconds (closer to the real
API's round trip). Run: ``python bench/_upstream_stub.py PORT [DELAY_MS]``.
"""

import asyncio
import json
import secrets
import sys
import time


DELAY_S = 0.0


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
            if DELAY_S:
                await asyncio.sleep(DELAY_S)
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
    DELAY_S = float(sys.argv[2]) / 1000 if len(sys.argv) > 2 else 0.0
    asyncio.run(main(int(sys.argv[1])))

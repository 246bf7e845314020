"""Saving conversation items through Channels, against raw INSERT + COMMIT on the same PostgreSQL.

One daphne process with the production settings (bench/_common.py: DEBUG off, the database
connection pool; the Redis channel layer when REDIS_URL is set) holds 200 conversation sockets
of 200 learners, one session each. The client (this process, asyncio + websockets) measures:

- throughput: every socket sends items back to back, each after the previous one's ack;
- latency at a paced load: every socket sends one item every 4 s (50 items/s in all, a
  turn every 4 s per learner is already a brisk conversation), then one every second.

The baseline is one psycopg connection inserting the same rows into the same table with one
COMMIT per row, as fast as it can.

    python bench/save.py [--smoke] [--database-url postgres://…]
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from _common import (
    Progress,
    bench_database_url,
    daphne,
    django_setup,
    figure,
    header,
    learner_sessions_build,
    parser,
    percentile,
    raise_open_files_limit,
    verdict,
)

SOCKETS = 200
ORIGIN = "http://127.0.0.1"



def baseline_inserts(database_url: str, session_id: int, count: int) -> float:
    """Items per second: one connection, INSERT + COMMIT per row, the same columns as the app."""
    import psycopg
    from django.db import connection

    from tutor.models import ConversationItem

    fields = [f for f in ConversationItem._meta.concrete_fields if not f.primary_key]
    sql = "INSERT INTO {} ({}) VALUES ({})".format(
        ConversationItem._meta.db_table,
        ", ".join(f'"{f.column}"' for f in fields),
        ", ".join(["%s"] * len(fields)),
    )
    rows = []
    for n in range(count):
        item = ConversationItem(
            session_id=session_id,
            item_id=f"raw_{n}",
            role="user",
            kind="message",
            text=f"turn number {n}, hola",
            raw={"n": n},
            order=n,
        )
        rows.append([f.get_db_prep_save(f.pre_save(item, True), connection) for f in fields])
    progress = Progress("baseline INSERT + COMMIT", count)
    with psycopg.connect(database_url.replace("postgres://", "postgresql://", 1)) as conn:
        started = time.perf_counter()
        for row in rows:
            conn.execute(sql, row)
            conn.commit()
            progress.step()
        elapsed = time.perf_counter() - started
    return count / elapsed


async def sockets_open(base_url: str, cookies: list[str], session_ids: list[int]):
    from websockets.asyncio.client import connect

    url = base_url.replace("http://", "ws://")
    progress = Progress("opening sockets", len(session_ids))

    async def one(cookie: str, session_id: int):
        ws = await connect(
            f"{url}/ws/tutor/sessions/{session_id}/",
            origin=ORIGIN,
            additional_headers={"Cookie": f"sessionid={cookie}"},
            proxy=None,
            open_timeout=60,
        )
        progress.step()
        return ws

    opened = []
    for start in range(0, len(session_ids), 50):  # not all at once: 2 cores
        opened += await asyncio.gather(
            *(one(c, s) for c, s in zip(cookies[start : start + 50], session_ids[start : start + 50], strict=True))
        )
    return opened


async def save_one(ws, item_id: str, order: int) -> float:
    message = {
        "type": "item",
        "item": {
            "id": item_id,
            "role": "user",
            "kind": "message",
            "text": f"turn number {order}, hola",
            "order": order,
            "raw": {"n": order},
        },
    }
    started = time.perf_counter()
    await ws.send(json.dumps(message))
    while True:
        reply = json.loads(await ws.recv())
        if reply.get("item_id") == item_id:
            if reply["type"] != "ack":
                raise SystemExit(f"not saved: {reply}")
            return (time.perf_counter() - started) * 1000


async def closed_loop(sockets, per_socket: int, tag: str) -> tuple[float, list[float]]:
    progress = Progress("throughput (back to back)", len(sockets) * per_socket)
    latencies: list[float] = []

    async def run(index: int, ws) -> None:
        for n in range(per_socket):
            latencies.append(await save_one(ws, f"{tag}_{index}_{n}", n))
            progress.step()

    started = time.perf_counter()
    await asyncio.gather(*(run(i, ws) for i, ws in enumerate(sockets)))
    return len(latencies) / (time.perf_counter() - started), latencies


async def paced(sockets, seconds: float, interval: float, tag: str) -> tuple[float, list[float]]:
    rounds = int(seconds / interval)
    progress = Progress(f"paced (1 item per socket every {interval:g} s)", len(sockets) * rounds)
    latencies: list[float] = []

    async def run(index: int, ws) -> None:
        await asyncio.sleep(interval * index / len(sockets))  # spread the sockets over the interval
        next_at = time.perf_counter()
        for n in range(rounds):
            latencies.append(await save_one(ws, f"{tag}_{index}_{n}", n))
            progress.step()
            next_at += interval
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))

    started = time.perf_counter()
    await asyncio.gather(*(run(i, ws) for i, ws in enumerate(sockets)))
    return len(latencies) / (time.perf_counter() - started), latencies


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def channels_run(
    server_pid: int, base_url: str, cookies: list[str], session_ids: list[int], args
) -> dict:
    sockets = await sockets_open(base_url, cookies, session_ids)
    result = {}
    try:
        await closed_loop(sockets, 1, "warm")
        started, server_cpu, client_cpu = (
            time.perf_counter(),
            cpu_seconds(server_pid),
            time.process_time(),
        )
        result["rate"], result["latencies"] = await closed_loop(sockets, args.per_socket, "fast")
        wall = time.perf_counter() - started
        result["cpu"] = (
            (cpu_seconds(server_pid) - server_cpu) / wall,
            (time.process_time() - client_cpu) / wall,
        )
        result["paced"] = [
            (interval, *await paced(sockets, args.paced_seconds, interval, f"paced{interval:g}"))
            for interval in args.intervals
        ]
    finally:
        await asyncio.gather(*(ws.close() for ws in sockets))
    return result


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    args = p.parse_args()
    args.per_socket = 2 if args.smoke else 25
    args.paced_seconds = 1.0 if args.smoke else 16.0
    args.intervals = [1.0] if args.smoke else [4.0, 1.0]
    sockets = 10 if args.smoke else SOCKETS
    header("Saving items: Channels (daphne) vs raw INSERT + COMMIT", args)
    raise_open_files_limit()
    database_url = bench_database_url(args.database_url, need_postgres=True)
    django_setup(database_url)
    from django.db import connections

    from tutor.models import ConversationItem

    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # One learner per socket, as in a classroom (each learner's saves queue on their own row
    # lock and count against their own day), and the baseline's rows under one more.
    built = [learner_sessions_build(0, email_prefix=f"saver{n}") for n in range(sockets + 1)]
    baseline_session = built[0][1][0]
    cookies = [cookie for cookie, _ in built[1:]]
    socket_sessions = [ids[0] for _, ids in built[1:]]
    connections.close_all()
    layer = "Redis" if os.environ.get("REDIS_URL") else "in-memory"
    from django.conf import settings as django_settings

    print(
        f"database: {database_url.split('@')[-1]} | sockets: {sockets} | channel layer: {layer}"
        f" | group commit: {'on' if django_settings.TUTOR_ITEM_GROUP_COMMIT else 'off'}"
    )

    baseline_count = 200 if args.smoke else 5_000
    baseline_rate = baseline_inserts(database_url, baseline_session, baseline_count)
    with daphne(database_url) as server:
        result = asyncio.run(
            channels_run(server.pid, server.base_url, cookies, socket_sessions, args)
        )

    saved = ConversationItem.objects.filter(session_id__in=socket_sessions).count()
    expected = len(socket_sessions) * (1 + args.per_socket) + sum(
        len(lat) for _, _, lat in result["paced"]
    )
    print(f"items saved through Channels: {saved} (expected {expected})")
    ratio = figure(
        "items/s (back to back)",
        result["rate"],
        baseline_rate,
        "items/s",
        target=">= 1.0",
        better="higher",
    )
    lat = result["latencies"]
    print(
        f"ack latency back to back ({len(lat)} items, {sockets} sockets in flight): "
        f"p50 {percentile(lat, 50):.1f} ms | p99 {percentile(lat, 99):.1f} ms"
    )
    server_cores, client_cores = result["cpu"]
    print(
        f"CPU while back to back: daphne {server_cores:.2f} cores, this client {client_cores:.2f} cores "
        f"(of {os.cpu_count()}; PostgreSQL and Redis share the rest)"
    )
    base_ms = 1000 / baseline_rate
    print(f"(latency baseline: one raw INSERT + COMMIT, {base_ms:.2f} ms)")
    paced_p99s = {}
    for interval, offered, paced_lat in result["paced"]:
        name = f"every {interval:g} s"
        print(
            f"paced, one item per socket {name}: {offered:.0f} items/s offered ({len(paced_lat)} items)"
        )
        figure(f"ack p50 (paced, {name})", percentile(paced_lat, 50), base_ms, "ms")
        paced_p99s[name] = percentile(paced_lat, 99)
        figure(f"ack p99 (paced, {name})", paced_p99s[name], base_ms, "ms", target="<= 50 ms")
    verdict("items/s >= 1.0 of raw", ratio >= 1.0, f"{ratio:.2f}")
    for name, p99 in paced_p99s.items():
        verdict(f"ack p99 <= 50 ms (paced, {name})", p99 <= 50, f"{p99:.1f} ms")
    verdict(
        "ack p99 <= 50 ms (back to back)",
        percentile(lat, 99) <= 50,
        f"{percentile(lat, 99):.1f} ms",
    )
    if saved != expected:
        raise SystemExit("some items were not saved")


if __name__ == "__main__":
    main()

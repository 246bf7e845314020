"""Memory per idle conversation socket: 1,000 sockets held open by one daphne process.

The baseline is the process's own resident memory once warmed up (one socket opened and
closed, so every module is loaded); the figure is the growth with all sockets open and idle,
divided by their number. Uses the Redis channel layer when REDIS_URL is set.

    python bench/sockets.py [--smoke] [--sockets N] [--database-url URL]
"""

from __future__ import annotations

import asyncio
import gc
import os

from _common import (
    Progress,
    bench_database_url,
    daphne,
    django_setup,
    header,
    learner_sessions_build,
    parser,
    raise_open_files_limit,
    rss_kib,
    verdict,
)

ORIGIN = "http://127.0.0.1"



async def connect(url: str, cookie: str):
    from websockets.asyncio.client import connect as ws_connect

    return await ws_connect(
        url,
        origin=ORIGIN,
        additional_headers={"Cookie": f"sessionid={cookie}"},
        proxy=None,
        open_timeout=120,
        ping_interval=None,
        compression=None,
    )


async def measure(
    pid: int, base_url: str, cookie: str, session_ids: list[int], settle_s: float
) -> dict:
    ws_base = base_url.replace("http://", "ws://") + "/ws/tutor/sessions/"
    warm = await connect(f"{ws_base}{session_ids[0]}/", cookie)
    await warm.close()
    await asyncio.sleep(settle_s)
    before = rss_kib(pid)

    progress = Progress("opening idle sockets", len(session_ids) - 1)
    sockets = []
    for start in range(1, len(session_ids), 50):
        batch = session_ids[start : start + 50]
        sockets += await asyncio.gather(*(connect(f"{ws_base}{s}/", cookie) for s in batch))
        progress.step(len(batch))
    await asyncio.sleep(settle_s)  # idle: let the server finish every handshake and settle
    samples = []
    for _ in range(3):
        samples.append(rss_kib(pid))
        await asyncio.sleep(0.5)
    after = max(samples)
    open_count = sum(1 for ws in sockets if ws.state.name == "OPEN")
    await asyncio.gather(*(ws.close() for ws in sockets))
    await asyncio.sleep(settle_s)
    return {"before": before, "after": after, "open": open_count, "after_close": rss_kib(pid)}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument(
        "--sockets",
        type=int,
        default=0,
        help="idle sockets to hold (default 1000; 50 with --smoke)",
    )
    args = p.parse_args()
    count = args.sockets or (50 if args.smoke else 1_000)
    header(f"Memory per idle socket: {count} sockets on one daphne process", args)
    raise_open_files_limit()
    database_url = bench_database_url(args.database_url)
    django_setup(database_url)
    from django.db import connections

    cookie, session_ids = learner_sessions_build(count, email_prefix="idle")
    connections.close_all()
    gc.collect()
    layer = "Redis" if os.environ.get("REDIS_URL") else "in-memory"
    print(f"database: {database_url.split('@')[-1]} | channel layer: {layer}")
    with daphne(database_url) as server:
        result = asyncio.run(
            measure(server.pid, server.base_url, cookie, session_ids, 0.5 if args.smoke else 3.0)
        )

    grown = result["after"] - result["before"]
    per_socket = grown / result["open"] if result["open"] else float("inf")
    print(f"sockets open and idle: {result['open']} of {count}")
    print(
        f"process RSS: baseline {result['before'] / 1024:.1f} MiB | with sockets {result['after'] / 1024:.1f} MiB "
        f"| after closing them {result['after_close'] / 1024:.1f} MiB"
    )
    print(
        f"memory per socket: {per_socket:.1f} KiB | baseline (whole process) {result['before']:.0f} KiB "
        f"| ratio {per_socket / result['before']:.4f} | target <= 100 KiB"
    )
    print(
        f"all {result['open']} sockets as a share of the baseline process: {grown / result['before']:.2f}"
    )
    verdict("memory per socket <= 100 KiB", per_socket <= 100, f"{per_socket:.1f} KiB")
    if result["open"] != count:
        raise SystemExit("not every socket stayed open")


if __name__ == "__main__":
    main()

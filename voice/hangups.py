"""The server's side of the time limit: hang up a call when its session's time is up.

When the page reports its call, ``session_call_start`` records it with its deadline
(``hangup_at``, from ``voice.limits.call_deadline``) and ``hangup_schedule`` starts a task on
the server's running event loop that sleeps until then and calls ``time_up``: the session is
marked ended (``time_limit``), the page is told through the session's channel-layer group
(``{"type": "time_up", "message": ...}`` on its socket, in whichever process it is), and the
call is hung up upstream with the server key. The task belongs to the server process, not to
the socket, so closing or tampering with the page does not lift the cap. Deadlines missed
while no process was running are caught by ``overdue_sessions_end``: the
``end_overdue_sessions`` command, and a sweep each time a call starts.

Time is read through ``common.clock.now``, and the sleep can be swapped, so tests run a
30-minute deadline in no time.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

import httpx
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer

from common import clock
from tutor.models import TutorSession
from voice import realtime
from voice.limits import mint_events_prune
from voice.metering import CLOSED_STATUSES
from voice.sessions import session_time_up

logger = logging.getLogger(__name__)

MAX_SLEEP_SECONDS = 60.0
SWEEP_BATCH = 50

Sleep = Callable[[float], Awaitable[None]]

# Strong references to the scheduled tasks of this process, by session id.
_TASKS: dict[int, asyncio.Task] = {}
# Strong references to one-off hang-ups of replaced calls, until they finish.
_HANGUPS: set[asyncio.Task] = set()


def session_group(session_id: int) -> str:
    """The channel-layer group of a session's sockets."""
    return f"tutor-session-{session_id}"


# --- Database -----------------------------------------------------------------------------


def overdue_session_ids(*, now: dt.datetime, limit: int = SWEEP_BATCH) -> list[int]:
    return list(
        TutorSession.objects.filter(hangup_at__lte=now)
        .exclude(status__in=CLOSED_STATUSES)
        .order_by("hangup_at")
        .values_list("pk", flat=True)[:limit]
    )


# --- Upstream and page --------------------------------------------------------------------


async def call_hang_up(
    session: TutorSession,
    *,
    call_id: str = "",
    transport: httpx.AsyncBaseTransport | None = None,
) -> bool:
    """Hang up ``session``'s call (or its earlier ``call_id``) upstream, best effort:
    failures are logged, not raised."""
    call_id = call_id or session.call_id
    if not call_id:
        return False
    try:
        upstream = realtime.upstream_stored(session.upstream_base_url)
        await realtime.calls_hangup(
            call_id=call_id,
            base_url=upstream.base_url,
            api_key=upstream.api_key,
            transport=transport,
        )
    except realtime.RealtimeError as error:
        logger.warning("Could not hang up the call of session %s: %s", session.pk, error.code)
        return False
    logger.info("Hung up the call of session %s", session.pk)
    return True


def call_hang_up_later(session: TutorSession, *, call_id: str) -> asyncio.Task:
    """``call_hang_up`` in a task of this process, so the caller need not wait for upstream."""
    task = asyncio.get_running_loop().create_task(call_hang_up(session, call_id=call_id))
    _HANGUPS.add(task)
    task.add_done_callback(_HANGUPS.discard)
    return task


async def _page_tell(session_id: int, event: dict, *, what: str) -> None:
    """Send ``event`` to the sockets of the session's pages, in whichever process they are."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(session_group(session_id), event)
    except Exception:
        logger.exception("Could not tell the pages of session %s %s", session_id, what)


async def page_tell_time_up(session_id: int, message: str) -> None:
    await _page_tell(
        session_id, {"type": "session.time_up", "message": message}, what="that time is up"
    )


async def page_tell_moved(session_id: int, *, reporter: str, page: str = "") -> None:
    """Tell the session's other pages that it goes on in the page whose socket is ``reporter``
    (or, for a call the server created, the page that says it is ``page``): they stop without
    ending it (their call is being hung up)."""
    await _page_tell(
        session_id,
        {"type": "session.moved", "reporter": reporter, "page": page},
        what="that it moved",
    )


async def time_up(
    *, session_id: int, now: dt.datetime, transport: httpx.AsyncBaseTransport | None = None
) -> bool:
    """If ``session_id``'s time is up: end it, tell its page, hang up its call. True if it did."""
    ended = await database_sync_to_async(session_time_up)(session_id=session_id, now=now)
    if ended is None:
        return False
    session, message = ended
    # Ended first, so a resume the hang-up provokes is refused; the page hears before its call drops.
    await page_tell_time_up(session.pk, message)
    await call_hang_up(session, transport=transport)
    return True


async def overdue_sessions_end(
    *, now: dt.datetime, transport: httpx.AsyncBaseTransport | None = None
) -> list[int]:
    """End every open session whose hang-up time has passed; their ids. Old mint records
    are pruned on the way (the mint path leaves them, to stay short)."""
    await database_sync_to_async(mint_events_prune)(now=now)
    ended = []
    for session_id in await database_sync_to_async(overdue_session_ids)(now=now):
        if await time_up(session_id=session_id, now=now, transport=transport):
            ended.append(session_id)
    return ended


# --- Scheduling ---------------------------------------------------------------------------


def _deadline(session_id: int) -> dt.datetime | None:
    session = TutorSession.objects.filter(pk=session_id).only("status", "hangup_at").first()
    if session is None or session.status in CLOSED_STATUSES:
        return None
    return session.hangup_at


async def hangup_when_due(
    *,
    session_id: int,
    sleep: Sleep = asyncio.sleep,
    transport: httpx.AsyncBaseTransport | None = None,
) -> bool:
    """Wait for the session's hang-up time, then ``time_up``; returns whether it hung up.

    The deadline is read again after every sleep (at most a minute each), so a deadline moved
    by a resume, or a session ended meanwhile, is seen, whichever process changed it.
    """
    while True:
        deadline = await database_sync_to_async(_deadline)(session_id)
        if deadline is None:
            return False
        wait = (deadline - clock.now()).total_seconds()
        if wait > 0:
            await sleep(min(wait, MAX_SLEEP_SECONDS))
            continue
        return await time_up(session_id=session_id, now=clock.now(), transport=transport)


async def _run(session_id: int) -> None:
    try:
        await overdue_sessions_end(now=clock.now())
        await hangup_when_due(session_id=session_id)
    except asyncio.CancelledError:
        raise
    except Exception:
        logger.exception("The hang-up of session %s failed", session_id)


def hangup_schedule(session_id: int) -> asyncio.Task:
    """Start (or restart) this process's hang-up task for ``session_id`` on the running loop;
    it first sweeps sessions already overdue."""
    hangup_cancel(session_id)
    task = asyncio.get_running_loop().create_task(_run(session_id))
    _TASKS[session_id] = task

    def forget(done: asyncio.Task) -> None:
        if _TASKS.get(session_id) is done:
            del _TASKS[session_id]

    task.add_done_callback(forget)
    return task


def hangup_cancel(session_id: int) -> None:
    task = _TASKS.pop(session_id, None)
    if task is not None:
        task.cancel()


def hangups_scheduled() -> dict[int, asyncio.Task]:
    return dict(_TASKS)

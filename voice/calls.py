"""A session's call as the page reports it: its start (and the hang-up it schedules), its end.

``call_report`` records the call id the page got from the Realtime API, schedules this
process's hang-up at the session's time limit, and hangs up a call it replaces (a session has
one call at a time; the page that held it is told the session moved). ``call_end`` ends the
session at the learner's word and hangs its call up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings

from common import clock
from tutor.models import TutorSession
from voice import hangups, leases, sideband
from voice.metering import CLOSED_STATUSES
from voice.protocol import CALL_ACK, ENDED
from voice.sessions import CallTaken, SessionClosed, session_call_start, session_end

__all__ = ["CallMismatch", "CallTaken", "SessionClosed", "call_end", "call_report", "call_report_check"]


class CallMismatch(Exception):
    """The page reported a call id that is not the one the server created for its session."""


async def call_report(
    *, session: TutorSession, call_id: str, reporter: str, page: str = "", settles_key: bool = True
) -> dict[str, Any]:
    """Record ``call_id`` as ``session``'s call, reported by the socket ``reporter`` (or, for a
    call the server created, by the page ``page`` that asked for it, with ``settles_key``
    False); the ``call_ack`` reply. ``SessionClosed`` if the session has ended."""
    now = clock.now()
    session, replaced = await database_sync_to_async(session_call_start)(
        session=session, call_id=call_id, now=now, settles_key=settles_key
    )
    # The hang-up runs in this server process whatever the page does from now on.
    hangups.hangup_schedule(session.pk)
    if settings.REALTIME_SIDEBAND:
        # The server joins the call itself, from whichever process claims it first.
        await database_sync_to_async(leases.lease_offer)(
            session_id=session.pk, call_id=call_id, now=now
        )
        sideband.sideband_loop_start()
        sideband.sideband_wake()
    if replaced:
        # One call per session: a call this one replaces must not run on unwatched. A page
        # still holding it (the session was continued in another window) stops first.
        await hangups.page_tell_moved(session.pk, reporter=reporter, page=page)
        hangups.call_hang_up_later(session, call_id=replaced)
    return _call_ack(session, call_id=call_id, now=now)


def _call_ack(session: TutorSession, *, call_id: str, now) -> dict[str, Any]:
    return {
        "type": CALL_ACK,
        "call_id": call_id,
        "hangup_at": int(session.hangup_at.timestamp()),
        "seconds_left": max(0, round((session.hangup_at - now).total_seconds())),
    }


async def call_report_check(*, session: TutorSession, call_id: str) -> dict[str, Any]:
    """A page's report of a call the server created itself (``REALTIME_CALL_SETUP=server``):
    it changes nothing, and is acknowledged only when it names the call the server recorded.
    ``SessionClosed`` if the session has ended, ``CallMismatch`` for any other call id."""
    current = await TutorSession.objects.aget(pk=session.pk)
    if current.status in CLOSED_STATUSES:
        raise SessionClosed(f"session {current.pk} is {current.status}")
    if not current.call_id or current.call_id != call_id or current.hangup_at is None:
        raise CallMismatch(f"session {current.pk} has no call {call_id}")
    return _call_ack(current, call_id=call_id, now=clock.now())


async def call_end(
    *, session: TutorSession, reason: str, reply: Callable[[dict[str, Any]], Awaitable[None]]
) -> None:
    """End ``session`` (once; ending it again changes nothing), ``reply`` to the page with its
    duration, then hang up its call: the page hears before its call drops."""
    status = await TutorSession.objects.filter(pk=session.pk).values_list("status", flat=True).aget()
    ended = await database_sync_to_async(session_end)(session=session, reason=reason)
    duration = ended.duration
    await reply(
        {
            "type": ENDED,
            "session_id": ended.pk,
            "duration_seconds": duration.total_seconds() if duration is not None else None,
        }
    )
    if status not in CLOSED_STATUSES:
        hangups.hangup_cancel(ended.pk)
        await hangups.call_hang_up(ended)


def learner_sessions_close(*, learner_id: int, reason: str = "deactivated") -> list[int]:
    """End every open session of a learner who may no longer practise (deactivated), and hang
    up their calls; the ids ended. Sync: run from the admin's save."""
    ended = []
    open_sessions = TutorSession.objects.filter(learner_id=learner_id).exclude(status__in=CLOSED_STATUSES)
    for session in open_sessions:
        was_open = session_end(session=session, reason=reason)
        ended.append(was_open.pk)
        if was_open.call_id:
            async_to_sync(hangups.call_hang_up)(was_open)
    return ended

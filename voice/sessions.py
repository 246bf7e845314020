"""The one writer of ``TutorSession``: a session's life from its first key to its end.

- ``mint_reserve`` checks the limits (``voice.limits``) and creates the session, or counts a
  resume's key on it; ``mint_release`` takes back a key the upstream never issued.
- ``session_call_start`` records the call the page reported and when it will be hung up.
- ``session_usage_add`` adds one response's tokens to the session's ledger.
- ``session_end`` and ``session_time_up`` end it, by the learner's word or at its time limit.

Each write locks the session's row (and the learner's, for a mint), so two processes never
interleave on one session.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, connection, transaction

from accounts.models import User
from common import clock
from common.db import row_insert, row_lock, rows_read
from tutor.models import TutorSession
from voice.limits import (
    TIME_LIMIT,
    call_deadline,
    limit_message,
    mint_allowed,
    mint_record,
    mint_state_read,
)
from voice.metering import CLOSED_STATUSES, deadline
from voice.protocol import MAX_ID, MAX_REASON_CHARS
from voice.usage import COUNTS

# A mint whose lock took longer than this reads the limits again at the time it got it.
LOCK_WAIT_REREAD = dt.timedelta(milliseconds=20)
MAX_RESPONSES_PER_SESSION = 5000  # usage records a session takes; no real session gets near it


class UsageRefused(Exception):
    """The session takes no more usage records."""


class SessionClosed(Exception):
    """The session has ended (or failed) and cannot be connected again."""


class CallTaken(Exception):
    """The reported call id belongs to another session: nobody's word makes it this one's."""


def tutor_session_get(*, learner, session_id: int) -> TutorSession | None:
    """The learner's own session ``session_id``; None for a missing or someone else's one."""
    if not 0 < session_id <= MAX_ID:
        return None
    return TutorSession.objects.filter(pk=session_id, learner=learner).first()


def _session_locked(*, learner_id: int, session_id: int) -> TutorSession | None:
    """The learner's session ``session_id`` read with its row locked (one statement), or None."""
    quote = connection.ops.quote_name
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    if not 0 < session_id <= MAX_ID:
        return None
    found = rows_read(
        TutorSession, f"{quote('id')} = %s AND {quote('learner_id')} = %s{lock}", [session_id, learner_id]
    )
    return found[0] if found else None


def tutor_session_create(
    *, learner, model: str, voice: str, instructions: str, focus_words: list[str], **fields: Any
) -> TutorSession:
    """A new session, its key being minted; ``fields`` sets any other of its columns. One
    insert, not compiled by the ORM each time: every new session's mint runs it."""
    session = TutorSession(
        learner=learner,
        status=TutorSession.Status.MINTED,
        model=model,
        voice=voice,
        instructions=instructions,
        focus_words=list(focus_words),
        **fields,
    )
    row_insert(session)
    return session


def _call_record(
    locked: TutorSession, *, call_id: str, now: dt.datetime, settles_key: bool = True
) -> TutorSession:
    """Record the WebRTC call on a row the caller locked: its id (the latest after a
    reconnect) and the first connect time.

    A new call id settles one key minted for the session (``keys_unreported``); the same id
    reported again, as a page's outbox may, settles nothing more.
    """
    if locked.status in CLOSED_STATUSES:
        raise SessionClosed(f"session {locked.pk} is {locked.status}")
    if settles_key and call_id != locked.call_id and locked.keys_unreported > 0:
        locked.keys_unreported -= 1
    locked.call_id = call_id
    locked.connected_at = locked.connected_at or now
    locked.status = TutorSession.Status.LIVE
    locked.save(update_fields=["call_id", "connected_at", "status", "keys_unreported"])
    return locked


@transaction.atomic
def session_end(*, session: TutorSession, reason: str, now: dt.datetime | None = None) -> TutorSession:
    """Mark the session ended with its end time and reason; ending it again changes nothing."""
    locked = TutorSession.objects.select_for_update().get(pk=session.pk)
    if locked.status == TutorSession.Status.ENDED:
        return locked
    locked.status = TutorSession.Status.ENDED
    locked.ended_at = now or clock.now()
    locked.end_reason = reason[:MAX_REASON_CHARS]
    locked.save(update_fields=["status", "ended_at", "end_reason"])
    return locked


@transaction.atomic
def session_call_start(
    *, session: TutorSession, call_id: str, now: dt.datetime, settles_key: bool = True
) -> tuple[TutorSession, str]:
    """Record the session's (new) call and when the server will hang it up: the session, and
    the call it replaces ("" if none), which the caller hangs up so only one call runs.
    ``settles_key`` False: a call the server created itself, whose mint ``call_reservation_claim``
    has already settled."""
    locked = TutorSession.objects.select_for_update().get(pk=session.pk)
    if TutorSession.objects.filter(call_id=call_id).exclude(pk=locked.pk).exists():
        raise CallTaken(f"call {call_id} belongs to another session")
    previous = locked.call_id
    try:
        with transaction.atomic():
            session = _call_record(locked, call_id=call_id, now=now, settles_key=settles_key)
    except IntegrityError:  # another session took the same id at the same moment
        raise CallTaken(f"call {call_id} belongs to another session") from None
    session.hangup_at = call_deadline(session=session, now=now)
    session.save(update_fields=["hangup_at"])
    return session, (previous if previous and previous != call_id else "")


class NoReservation(Exception):
    """No unused mint to create a call with: none was asked for, or it has expired."""


def call_reservation_claim(
    *, session: TutorSession, ttl_seconds: float, now: dt.datetime | None = None
) -> TutorSession:
    """Take the mint reserved for ``session`` (``mint_reserve``) for a call the server creates
    itself (``REALTIME_CALL_SETUP=server``): one mint opens one call, however many requests race
    for it. The page owes nothing for it: the server records the call it creates
    (``session_call_start(settles_key=False)``), and if the upstream refuses, no call exists.

    ``SessionClosed`` if the session has ended; ``NoReservation`` if it has no unused mint, or
    its last one is older than ``ttl_seconds`` (that mint is released: no call was made with it).
    """
    claimed, problem = _reservation_take(session=session, ttl_seconds=ttl_seconds, now=now or clock.now())
    if problem is not None:  # raised once the transaction has kept what it wrote
        raise problem
    return claimed


@transaction.atomic
def _reservation_take(
    *, session: TutorSession, ttl_seconds: float, now: dt.datetime
) -> tuple[TutorSession, Exception | None]:
    locked = TutorSession.objects.select_for_update().get(pk=session.pk)
    if locked.status in CLOSED_STATUSES:
        return locked, SessionClosed(f"session {locked.pk} is {locked.status}")
    if locked.keys_unreported < 1:
        return locked, NoReservation(f"session {locked.pk} has no unused mint")
    # A new session's mint is its minted_at; each later one (a resume) is a MintEvent.
    last_event = locked.mint_events.order_by("-created_at").values_list("created_at", flat=True).first()
    last_mint = max((t for t in (last_event, locked.minted_at) if t is not None), default=None)
    locked.keys_unreported -= 1
    locked.save(update_fields=["keys_unreported"])
    if last_mint is None or last_mint + dt.timedelta(seconds=ttl_seconds) <= now:
        return locked, NoReservation(f"session {locked.pk}'s last mint has expired")
    return locked, None


@transaction.atomic
def session_time_up(*, session_id: int, now: dt.datetime) -> tuple[TutorSession, str] | None:
    """End the session for its time limit if it is due and still open: it and the message
    for the learner; None when there is nothing to do."""
    session = (
        TutorSession.objects.select_for_update().select_related("learner").filter(pk=session_id).first()
    )
    if (
        session is None
        or session.status in CLOSED_STATUSES
        or session.hangup_at is None
        or session.hangup_at > now
    ):
        return None
    session.status = TutorSession.Status.ENDED
    session.ended_at = session.hangup_at
    session.end_reason = TIME_LIMIT
    session.save(update_fields=["status", "ended_at", "end_reason"])
    return session, limit_message(session=session)


@transaction.atomic
def mint_reserve(
    *,
    learner,
    upstream_base_url: str,
    now: dt.datetime | None = None,
    session: TutorSession | None = None,
    new_session: dict | None = None,
    resumable: Callable[[TutorSession | None], TutorSession] | None = None,
) -> TutorSession:
    """Check the limits and record the mint: the session to mint for, created if new.

    Three statements for a new session: the learner's row locked, the limits read
    (``voice.limits.mint_state_read``), the session inserted; the first two (and the
    transaction's BEGIN) in one round trip on PostgreSQL. The lock makes two requests at
    once (in any processes) queue, so they cannot both take the last mint or the last live
    slot; the clock is read just before the lock, and again once it is held: a request that
    waited more than ``LOCK_WAIT_REREAD`` reads the limits again at that time, so it counts
    the time it waited (``now`` is for tests). ``new_session`` holds
    ``tutor_session_create``'s fields when ``session`` is None. For a resume, ``session`` is
    read again with its row locked, only if it is the learner's, and handed to ``resumable``
    (which refuses a session that is gone or closed) under the lock, so a session that ended
    meanwhile gets no key.

    The key counts as unreported until the page reports its call (``session_call_start``).
    A new session gets its hang-up time now, so a call the page never reports is charged
    up to it: the day's minutes or the maximum length, whichever comes first.
    """
    # The lock, alone in its statement: every statement after it reads what a mint that held
    # the lock before committed (a read in the locking statement itself would not see it).
    state = None
    if session is not None:
        row_lock(User, learner.pk)
        session = _session_locked(learner_id=learner.pk, session_id=session.pk)
        if resumable is not None:
            session = resumable(session)
        elif session is None:
            raise TutorSession.DoesNotExist
        now = now or clock.now()
    else:
        # The lock and the limits' read go out together (one round trip), the read's clock
        # taken just before; had the lock been waited for, it is read again at the new time.
        asked_at = now or clock.now()
        state = mint_state_read(learner=learner, now=asked_at, lock=True)
        if now is None and (granted := clock.now()) - asked_at > LOCK_WAIT_REREAD:
            asked_at, state = granted, mint_state_read(learner=learner, now=granted)
        now = asked_at
    left = mint_allowed(learner=learner, now=now, session=session, state=state)
    if session is None:
        # The new session is the record of its first key (the mint rate counts its minted_at).
        return tutor_session_create(
            learner=learner,
            **(new_session or {}),
            minted_at=now,
            hangup_at=deadline(minted_at=now, now=now, seconds_left=left),
            upstream_base_url=upstream_base_url[:255],
            keys_unreported=1,
        )
    if session.hangup_at is None:
        session.hangup_at = deadline(minted_at=session.minted_at, now=now, seconds_left=left)
    session.upstream_base_url = upstream_base_url[:255]
    session.keys_unreported += 1
    session.save(update_fields=["upstream_base_url", "hangup_at", "keys_unreported"])
    mint_record(learner_id=learner.pk, session=session, now=now)
    return session


@transaction.atomic
def mint_release(*, session: TutorSession, new: bool = False) -> None:
    """The key reserved for ``session`` was never issued (the upstream refused): it is not owed.
    A ``new`` session goes altogether: no key, no session (its mint still counts)."""
    if new:
        # Its mint still counts toward the rate: recorded apart from the session that goes.
        mint_record(learner_id=session.learner_id, session=None, now=session.minted_at)
        TutorSession.objects.filter(pk=session.pk).delete()
        return
    locked = TutorSession.objects.select_for_update().get(pk=session.pk)
    if locked.keys_unreported > 0:
        locked.keys_unreported -= 1
        locked.save(update_fields=["keys_unreported"])


@transaction.atomic
def session_usage_add(*, session: TutorSession, response_id: str, usage: dict[str, int]) -> bool:
    """Add one response's normalised usage to the session, once per response id.

    Returns False when this response was already counted. Raises ``UsageRefused`` past
    ``MAX_RESPONSES_PER_SESSION`` responses (no real session gets near it).
    """
    locked = TutorSession.objects.select_for_update().only("usage").get(pk=session.pk)
    ledger = dict(locked.usage or {})
    seen = list(ledger.get("response_ids") or [])
    if response_id in seen:
        return False
    if len(seen) >= MAX_RESPONSES_PER_SESSION:
        raise UsageRefused(f"session {session.pk} has {len(seen)} responses already")
    for name in COUNTS:
        ledger[name] = int(ledger.get(name) or 0) + int(usage.get(name) or 0)
    ledger["input_tokens"] = ledger["input_text_tokens"] + ledger["input_audio_tokens"]
    ledger["output_tokens"] = ledger["output_text_tokens"] + ledger["output_audio_tokens"]
    ledger["response_ids"] = [*seen, response_id]
    ledger["responses"] = len(ledger["response_ids"])
    locked.usage = ledger
    locked.save(update_fields=["usage"])
    return True


# --- What the sideband saw ------------------------------------------------------------------


@transaction.atomic
def session_sideband_joined(*, session_id: int, now: dt.datetime) -> None:
    """The server joined the session's call over the sideband: it watches the call itself."""
    TutorSession.objects.filter(pk=session_id, sideband_joined_at__isnull=True).update(
        sideband_joined_at=now
    )
    # From now on speech is measured: a session where the learner only types speaks 0 s.
    TutorSession.objects.filter(pk=session_id, speaking_seconds__isnull=True).update(speaking_seconds=0.0)


@transaction.atomic
def session_call_refused(*, session_id: int, call_id: str, reason: str) -> bool:
    """The sideband could not join ``call_id``, the call the page reported: a false report.

    The session owes a reported call again, so it is charged up to its hang-up time and keeps
    its live slot until then (the next mint is refused), and staff see why. False if the
    session has moved on to another call meanwhile.
    """
    locked = TutorSession.objects.select_for_update().get(pk=session_id)
    if locked.call_id != call_id:
        return False
    locked.keys_unreported += 1
    locked.call_refused = reason[:200]
    locked.save(update_fields=["keys_unreported", "call_refused"])
    return True


@transaction.atomic
def session_speech_add(*, session_id: int, seconds: float) -> None:
    """Add measured speech (one ``speech_started`` .. ``speech_stopped``) to the session."""
    if seconds <= 0:
        return
    locked = TutorSession.objects.select_for_update().only("speaking_seconds").get(pk=session_id)
    locked.speaking_seconds = (locked.speaking_seconds or 0.0) + seconds
    locked.save(update_fields=["speaking_seconds"])

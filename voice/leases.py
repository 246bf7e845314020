"""Which server process holds each live call's sideband: lease rows in the database.

A reported call gets a lease row (``lease_offer``). Every process that runs the sideband loop
claims leases nobody holds, or whose holder stopped renewing them (``leases_claim``: one
``SELECT … FOR UPDATE SKIP LOCKED`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises the
claim instead), renews the ones it holds every few seconds (``leases_renew``), and ends a lease
when its call ends (``lease_end``). A holder that dies stops renewing, so within
``SIDEBAND_LEASE_SECONDS`` another process takes the call over and joins it again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from tutor.models import CallLease
from voice.metering import CLOSED_STATUSES


@dataclass(frozen=True)
class Claim:
    lease_id: int
    session_id: int
    call_id: str


def lease_length() -> dt.timedelta:
    return dt.timedelta(seconds=settings.SIDEBAND_LEASE_SECONDS)


def lease_offer(*, session_id: int, call_id: str, now: dt.datetime) -> None:
    """Make ``call_id`` (``session_id``'s reported call) claimable by any sideband loop."""
    try:
        with transaction.atomic():
            CallLease.objects.get_or_create(
                call_id=call_id, defaults={"session_id": session_id, "expires_at": now}
            )
    except IntegrityError:  # offered twice at once (the outbox resends): one row is enough
        pass


@transaction.atomic
def leases_claim(
    *, holder: str, now: dt.datetime, limit: int = 20, upstreams: frozenset[str] | None = None
) -> list[Claim]:
    """Claim up to ``limit`` open leases nobody holds or whose holder's time ran out (only
    calls on ``upstreams``, when given)."""
    candidates = CallLease.objects.filter(ended_at__isnull=True, expires_at__lte=now).exclude(
        session__status__in=CLOSED_STATUSES
    )
    if upstreams is not None:
        candidates = candidates.filter(session__upstream_base_url__in=upstreams)
    if connection.features.has_select_for_update_skip_locked:
        candidates = candidates.select_for_update(skip_locked=True, of=("self",))
    claims = [
        Claim(lease_id=pk, session_id=session_id, call_id=call_id)
        for pk, session_id, call_id in candidates.order_by("expires_at").values_list(
            "pk", "session_id", "call_id"
        )[:limit]
    ]
    if claims:
        CallLease.objects.filter(pk__in=[claim.lease_id for claim in claims]).update(
            holder=holder[:64], expires_at=now + lease_length(), joined_at=None
        )
    return claims


def leases_renew(*, holder: str, lease_ids: list[int], now: dt.datetime) -> set[int]:
    """Extend the leases ``holder`` still holds; the ids it holds (a lost one is not in it)."""
    if not lease_ids:
        return set()
    held = CallLease.objects.filter(pk__in=lease_ids, holder=holder[:64], ended_at__isnull=True)
    held.update(expires_at=now + lease_length())
    return set(held.values_list("pk", flat=True))


def lease_joined(*, lease_id: int, holder: str, now: dt.datetime) -> None:
    """The holder is connected to the call: from now on it sees the call's events."""
    CallLease.objects.filter(pk=lease_id, holder=holder[:64]).update(joined_at=now)


def lease_end(*, lease_id: int, now: dt.datetime) -> None:
    """The call is over (hung up, or its session ended): nobody needs to hold it."""
    CallLease.objects.filter(pk=lease_id, ended_at__isnull=True).update(ended_at=now)


def lease_end_for_session(*, session_id: int, now: dt.datetime) -> None:
    CallLease.objects.filter(session_id=session_id, ended_at__isnull=True).update(ended_at=now)

"""Calls the server creates itself (``REALTIME_CALL_SETUP=server``): ``POST /tutor/calls/``.

The page asks ``POST /tutor/token/`` for a mint as in the browser mode (the same limits, the
same session), but gets no key: it POSTs its SDP offer here instead. ``call_create`` spends that
mint on one call, creates the call with the server key through the Realtime API's unified
interface (``voice.realtime.calls_create``), records the call id from the API's own answer, and
returns the SDP answer. The page never holds a key that could open a call the server does not
know, and its own report of the call id changes nothing (``calls.call_report_check``).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings

from tutor.models import TutorSession
from voice import calls, realtime
from voice.keys import KeyRefused, resume_config
from voice.limits import TIME_LIMIT, limit_message
from voice.metering import CLOSED_STATUSES
from voice.sessions import (
    CallTaken,
    NoReservation,
    SessionClosed,
    call_reservation_claim,
    tutor_session_get,
)

logger = logging.getLogger(__name__)

# A browser's offer (one audio section and the data channel, with its ICE candidates) is a few
# kilobytes; anything near this is not one.
MAX_OFFER_CHARS = 20_000
PAGE_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


@dataclass(frozen=True)
class CallRequest:
    session_id: int
    sdp: str
    page: str = ""


def call_request_parse(data: Any) -> CallRequest:
    """The checked ``{"session_id", "sdp", "page"?}`` of a call request; ValueError if not."""
    if not isinstance(data, dict):
        raise ValueError("The request body must be a JSON object.")
    session_id = data.get("session_id")
    if isinstance(session_id, bool) or not isinstance(session_id, int) or session_id <= 0:
        raise ValueError("session_id must be a positive whole number.")
    sdp = data.get("sdp")
    if not isinstance(sdp, str) or not sdp.strip():
        raise ValueError("sdp must be the page's SDP offer.")
    if len(sdp) > MAX_OFFER_CHARS:
        raise ValueError(f"The SDP offer is longer than {MAX_OFFER_CHARS} characters.")
    if "\x00" in sdp or any(0xD800 <= ord(char) <= 0xDFFF for char in sdp):
        raise ValueError("The SDP offer holds characters no offer has.")
    if not sdp.lstrip().startswith("v=0"):
        raise ValueError("The SDP offer must start with 'v=0'.")
    page = data.get("page", "")
    if not isinstance(page, str) or (page and not PAGE_ID.match(page)):
        raise ValueError("page must be a short identifier.")
    return CallRequest(session_id=session_id, sdp=sdp, page=page)


def _claim(*, learner, session_id: int) -> tuple[TutorSession, dict[str, Any]]:
    """The learner's open session with its mint taken for this call, and the call's config."""
    session = tutor_session_get(learner=learner, session_id=session_id)
    if session is None:
        raise KeyRefused(404, "That tutor session does not exist.", "not_found")
    if session.status in CLOSED_STATUSES and session.end_reason == TIME_LIMIT:
        raise KeyRefused(403, limit_message(session=session), TIME_LIMIT)
    try:
        session = call_reservation_claim(session=session, ttl_seconds=settings.REALTIME_TOKEN_TTL_SECONDS)
    except SessionClosed:
        raise KeyRefused(409, "That tutor session has ended; start a new one.", "session_ended") from None
    except NoReservation:
        raise KeyRefused(
            409, "This call needs a fresh start from Parlance. Please try again.", "no_reservation"
        ) from None
    return session, resume_config(learner=learner, session=session)


async def call_create(*, learner, request: CallRequest, upstream: realtime.Upstream) -> dict[str, Any]:
    """Create the call for the learner's session with the server key: the JSON the page gets
    (the SDP answer, the call id and the hang-up time). Every refusal is a ``KeyRefused``."""
    session, config = await sync_to_async(_claim)(learner=learner, session_id=request.session_id)
    try:
        created = await realtime.calls_create(
            sdp=request.sdp, session_config=config, base_url=upstream.base_url, api_key=upstream.api_key
        )
    except realtime.RealtimeError as error:
        # No call exists: the mint taken for it is owed by nobody, and nothing else was held.
        raise KeyRefused(error.status, error.message, error.code) from None
    try:
        ack = await calls.call_report(
            session=session,
            call_id=created.call_id,
            reporter="",
            page=request.page,
            settles_key=False,
        )
    except (SessionClosed, CallTaken) as problem:
        # The session ended while the call was being made (or the API reused an id we hold):
        # the call must not run on unwatched.
        logger.warning("Server-created call for session %s not recorded: %s", session.pk, problem)
        await _hang_up(created.call_id, upstream=upstream)
        raise KeyRefused(409, "That tutor session has ended; start a new one.", "session_ended") from None
    return {
        "sdp": created.answer_sdp,
        "call_id": created.call_id,
        "session_id": session.pk,
        "hangup_at": ack["hangup_at"],
        "seconds_left": ack["seconds_left"],
    }


async def _hang_up(call_id: str, *, upstream: realtime.Upstream) -> None:
    try:
        await realtime.calls_hangup(call_id=call_id, base_url=upstream.base_url, api_key=upstream.api_key)
    except realtime.RealtimeError:
        logger.warning("Could not hang up the unrecorded call %s", call_id)

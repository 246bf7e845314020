"""The voice tutor's HTTP side: its page, and the key its script asks for."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from voice import realtime
from voice.call_setup import MAX_OFFER_CHARS, call_create, call_request_parse
from voice.instructions import focus_words_shown, tutor_plan_build
from voice.keys import KeyRefused, key_mint


@login_required
@ensure_csrf_cookie
def tutor_page(request: HttpRequest) -> HttpResponse:
    """The voice session page; its script mints a key and connects over WebRTC. It lists
    today's focus words (the minted session's own list replaces them once it starts)."""
    focus = focus_words_shown(tutor_plan_build(learner=request.user).focus)
    return render(request, "voice/tutor.html", {"focus_words": focus})


def _json_error(status: int, message: str, code: str, **extra) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "code": code, **extra}}, status=status)


def _refused(error: Exception) -> JsonResponse:
    """The JSON answer to a mint or call that could not be made: a bad request (ValueError),
    a limit or a closed session (KeyRefused), or the Realtime API's refusal (RealtimeError)."""
    if isinstance(error, KeyRefused):
        return _json_error(error.status, error.message, error.code, **error.extra)
    if isinstance(error, realtime.RealtimeError):
        return _json_error(error.status, error.message, error.code)
    return _json_error(400, str(error), "bad_request")


def _requested_session_id(body: bytes) -> int | None:
    """The ``session_id`` of a reconnect, None for a new session; ValueError if malformed."""
    if not body.strip():
        return None
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("The request body must be JSON.") from None
    if not isinstance(data, dict):
        raise ValueError("The request body must be a JSON object.")
    session_id = data.get("session_id")
    if session_id is None:
        return None
    if isinstance(session_id, bool) or not isinstance(session_id, int) or session_id <= 0:
        raise ValueError("session_id must be a positive whole number.")
    return session_id


@require_POST
@never_cache
async def realtime_token(request: HttpRequest) -> JsonResponse:
    """Mint a short-lived key for the page's WebRTC call: a new session, or a reconnect.

    Async so that waiting on the Realtime API (or the stand-in on this very server) never
    holds up the server. Answers JSON even to anonymous users, since the page calls it with
    fetch.
    """
    try:
        # The user, the body and every read of the mint on one worker thread (key_mint).
        minted = await key_mint(
            learner=request.user,
            request_read=lambda: (_requested_session_id(request.body), realtime.upstream_for(request)),
        )
    except (ValueError, KeyRefused, realtime.RealtimeError) as error:
        return _refused(error)
    return JsonResponse(minted.answer())


# The JSON around an offer of MAX_OFFER_CHARS, escaped: a body past this is refused unread.
MAX_CALL_BODY_BYTES = 8 * MAX_OFFER_CHARS


@require_POST
@never_cache
async def realtime_call(request: HttpRequest) -> JsonResponse:
    """Create the WebRTC call for the learner's open session from the page's SDP offer, with
    the server key (``REALTIME_CALL_SETUP=server``): the SDP answer and the call id as JSON."""
    learner = await request.auser()
    if not learner.is_authenticated:
        return _json_error(401, "Please sign in to talk with the tutor.", "not_authenticated")
    if settings.REALTIME_CALL_SETUP != "server":
        return _json_error(404, "Calls are set up by the page here: ask for a key.", "not_found")
    try:
        length = int(request.headers.get("Content-Length") or 0)
    except ValueError:
        length = 0
    if length > MAX_CALL_BODY_BYTES or len(request.body) > MAX_CALL_BODY_BYTES:
        return _json_error(413, "The call request is too large.", "too_large")
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):
        return _json_error(400, "The request body must be JSON.", "bad_request")
    try:
        call_request = call_request_parse(data)
        upstream = realtime.upstream_for(request)
        answer = await call_create(learner=learner, request=call_request, upstream=upstream)
    except (ValueError, KeyRefused, realtime.RealtimeError) as error:
        return _refused(error)
    return JsonResponse(answer, status=201)

"""The voice tutor's HTTP side: its page, and the key its script asks for."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from voice import realtime
from voice.keys import KeyRefused, key_mint


@login_required
@ensure_csrf_cookie
def tutor_page(request: HttpRequest) -> HttpResponse:
    """The voice session page; its script mints a key and connects over WebRTC."""
    return render(request, "voice/tutor.html")


def _json_error(status: int, message: str, code: str, **extra) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "code": code, **extra}}, status=status)


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
    except ValueError as error:
        return _json_error(400, str(error), "bad_request")
    except KeyRefused as refusal:
        return _json_error(refusal.status, refusal.message, refusal.code, **refusal.extra)
    except realtime.RealtimeError as error:
        return _json_error(error.status, error.message, error.code)
    return JsonResponse(minted.answer())

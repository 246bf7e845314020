"""The stand-in's HTTP surface, shaped like ``https://api.openai.com/v1/realtime/...``.

- ``POST client_secrets`` (server key): validate, store, return ``{value: "ek_…", expires_at, session}``.
- ``POST calls``: raw ``application/sdp`` with an ``ek_`` key (or the server key, default
  session), or the multipart form (``sdp`` + ``session``) with the server key; 201 with the SDP
  answer and ``Location: /v1/realtime/calls/rtc_…``.
- ``POST calls/<call_id>/hangup`` (server key).

These are API endpoints authenticated by bearer keys, so they are CSRF-exempt and answer CORS
preflights for browsers on any origin.
"""

from __future__ import annotations

import json
import logging
import secrets
from datetime import timedelta
from functools import wraps
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from standin import auth, config
from standin.models import ClientSecret
from standin.webrtc import BadOffer, RealtimeCall, call_hangup

logger = logging.getLogger(__name__)

CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-OpenAI-Agents-SDK",
    "Access-Control-Expose-Headers": "Location",
    "Access-Control-Max-Age": "600",
}


CALL_FORM_PARTS = {"sdp", "session"}


def _error(status: int, message: str, *, code: str | None = None, param: str | None = None) -> JsonResponse:
    return JsonResponse(
        {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}},
        status=status,
    )


def _api(view):
    """CSRF-exempt, CORS headers on every answer, OPTIONS preflight, POST only."""

    @csrf_exempt
    @wraps(view)
    async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method == "OPTIONS":
            response: HttpResponse = HttpResponse(status=204)
        elif request.method != "POST":
            response = _error(405, f"Method {request.method} is not allowed here; use POST.", code="method_not_allowed")
            response["Allow"] = "POST, OPTIONS"
        else:
            response = await view(request, *args, **kwargs)
        for header, value in CORS_HEADERS.items():
            response[header] = value
        return response

    return wrapper


def _bearer(request: HttpRequest) -> str | None:
    return auth.bearer(request.headers.get("Authorization", ""))


def _unauthorized(key: str | None) -> JsonResponse:
    return _error(401, auth.unauthorized_message(key), code=None if key is None else "invalid_api_key")


@_api
async def client_secrets(request: HttpRequest) -> HttpResponse:
    key = _bearer(request)
    if not auth.is_server_key(key):
        return _unauthorized(key)
    try:
        body = json.loads(request.body or b"{}")
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.", code="invalid_json")
    try:
        ttl, session = config.client_secret_request_parse(body, defaults=auth.defaults())
    except config.InvalidRequest as problem:
        return JsonResponse({"error": problem.as_error()}, status=400)
    now = timezone.now()
    expires_at = now + timedelta(seconds=ttl)
    await ClientSecret.objects.filter(expires_at__lt=now - timedelta(hours=1)).adelete()
    secret = await ClientSecret.objects.acreate(
        value="ek_" + secrets.token_hex(24),
        session=session,
        expires_at=expires_at,
    )
    return JsonResponse({"value": secret.value, "expires_at": int(expires_at.timestamp()), "session": session})


@_api
async def calls(request: HttpRequest) -> HttpResponse:
    key = _bearer(request)
    session = await auth.session_for(key)
    if session is None:
        return _unauthorized(key)
    content_type = request.content_type or ""
    if content_type != "multipart/form-data" and not request.body.strip():
        return _error(400, "The SDP offer is empty.", code="invalid_offer", param="sdp")
    if content_type == "application/sdp":
        sdp = request.body.decode("utf-8", "replace")
    elif content_type == "multipart/form-data":
        if not auth.is_server_key(key):
            return _error(
                401, "The multipart form of /realtime/calls needs the server API key.", code="invalid_api_key"
            )
        # The form is exactly RealtimeCallCreateRequest (additionalProperties: false).
        unknown = sorted((set(request.POST) | set(request.FILES)) - CALL_FORM_PARTS)
        if unknown:
            return _error(400, f"Unknown parameter: '{unknown[0]}'.", code="unknown_parameter", param=unknown[0])
        sdp_part = request.POST.get("sdp") or _file_text(request, "sdp")
        session_part = request.POST.get("session") or _file_text(request, "session")
        if not sdp_part:
            return _error(400, "Missing required parameter: 'sdp'.", code="missing_required_parameter", param="sdp")
        sdp = sdp_part
        if session_part:
            try:
                session = config.session_create(json.loads(session_part), defaults=auth.defaults())
            except config.InvalidRequest as problem:
                return JsonResponse({"error": problem.as_error()}, status=400)
            except ValueError:
                return _error(400, "The 'session' part is not valid JSON.", code="invalid_json", param="session")
    else:
        return _error(
            400,
            f"Unsupported Content-Type {content_type or 'none'!r}: send the SDP offer as application/sdp, "
            "or a multipart/form-data form with 'sdp' and 'session' parts.",
            code="unsupported_content_type",
        )
    call = RealtimeCall(
        session=session,
        transcript_after_reply=settings.STANDIN_TRANSCRIPT_AFTER_REPLY,
        pace=settings.STANDIN_PACE_SECONDS,
    )
    try:
        answer = await call.answer(sdp)
    except BadOffer as problem:
        return _error(400, str(problem), code="invalid_offer", param="sdp")
    response = HttpResponse(answer, status=201, content_type="application/sdp")
    response["Location"] = f"/v1/realtime/calls/{call.call_id}"
    return response


def _file_text(request: HttpRequest, name: str) -> str | None:
    upload = request.FILES.get(name)
    if upload is None:
        return None
    return upload.read().decode("utf-8", "replace")


@_api
async def hangup(request: HttpRequest, call_id: str) -> HttpResponse:
    key = _bearer(request)
    if not auth.is_server_key(key):
        return _unauthorized(key)
    if not await call_hangup(call_id):
        return _error(404, f"Call '{call_id}' not found.", code="call_not_found", param="call_id")
    return HttpResponse(status=200)

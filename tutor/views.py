import json

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from tutor import realtime
from tutor.conversations import (
    CLOSED_STATUSES,
    tutor_session_create,
    tutor_session_get,
)
from tutor.instructions import session_config_build, tutor_plan_build
from tutor.history import learner_history, learner_session_get
from tutor.progress import learner_overview


def home(request: HttpRequest) -> HttpResponse:
    """The landing page for visitors, the learner's dashboard once signed in."""
    if not request.user.is_authenticated:
        return render(request, "tutor/landing.html")
    now = timezone.now()
    overview = learner_overview(learner=request.user, now=now)
    history = learner_history(learner=request.user, now=now)
    return render(request, "tutor/dashboard.html", {"overview": overview, "history": history})


@login_required
@ensure_csrf_cookie
def tutor_page(request: HttpRequest) -> HttpResponse:
    """The voice session page; its script mints a key and connects over WebRTC."""
    return render(request, "tutor/tutor.html")


def _json_error(status: int, message: str, code: str) -> JsonResponse:
    return JsonResponse({"error": {"message": message, "code": code}}, status=status)


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

    Async so that waiting on the Realtime API (or the stand-in on this very server)
    never holds up the server. Answers JSON even for anonymous users, since the page
    calls it with fetch.
    """
    learner = await request.auser()
    if not learner.is_authenticated:
        return _json_error(401, "Please sign in to talk with the tutor.", "not_authenticated")
    try:
        session_id = _requested_session_id(request.body)
    except ValueError as error:
        return _json_error(400, str(error), "bad_request")

    session = plan = None
    if session_id is not None:
        session = await sync_to_async(tutor_session_get)(learner=learner, session_id=session_id)
        if session is None:
            return _json_error(404, "That tutor session does not exist.", "not_found")
        if session.status in CLOSED_STATUSES:
            return _json_error(409, "That tutor session has ended; start a new one.", "session_ended")
        session_config = session_config_build(
            instructions=session.instructions,
            language=learner.target_language,
            model=session.model,
            voice=session.voice,
            transcribe_model=settings.REALTIME_TRANSCRIBE_MODEL,
        )
    else:
        plan = await sync_to_async(tutor_plan_build)(learner=learner)
        session_config = plan.session_config

    try:
        upstream = realtime.upstream_for(request)
        secret = await realtime.client_secret_create(
            session_config=session_config,
            base_url=upstream.base_url,
            api_key=upstream.api_key,
            ttl_seconds=settings.REALTIME_TOKEN_TTL_SECONDS,
        )
    except realtime.RealtimeError as error:
        return _json_error(error.status, error.message, error.code)

    if session is None:
        # Created only once the key exists, so a failed mint leaves no session behind.
        session = await sync_to_async(tutor_session_create)(
            learner=learner,
            model=session_config["model"],
            voice=session_config["audio"]["output"]["voice"],
            instructions=plan.instructions,
            focus_words=plan.focus_words,
        )
    return JsonResponse(
        {
            "client_secret": secret.value,
            "expires_at": secret.expires_at,
            "session_id": session.pk,
            "calls_url": upstream.calls_url,
            "model": session.model,
            "voice": session.voice,
            "socket_url": f"/ws/tutor/sessions/{session.pk}/",
        }
    )


@login_required
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    """A past session's transcript: the learner's own sessions only."""
    session = learner_session_get(learner=request.user, session_id=session_id)
    items = session.items.order_by("order", "created_at")
    return render(request, "tutor/session_detail.html", {"session": session, "items": items})

import json
import secrets
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_POST

from tutor import clock, realtime
from tutor.conversations import CLOSED_STATUSES, tutor_session_get
from tutor.limits import TIME_LIMIT, LimitReached, limit_message, mint_release, mint_reserve
from tutor.resume import resume_instructions_build
from tutor.instructions import session_config_build, tutor_plan_build
from tutor.history import learner_history, learner_session_get
from tutor.progress import learner_overview
from tutor import review
from tutor.forms import ReviewGradeForm, WrittenTestForm
from tutor.models import TestResult
from tutor.recap import practised_counts, session_recap
from tutor.review import ReviewRound
from tutor.written_test import (
    AlreadyGraded,
    WrittenTestInvalid,
    result_answers,
    written_test_build,
    written_test_grade,
    written_test_load,
)


def home(request: HttpRequest) -> HttpResponse:
    """The landing page for visitors, the learner's dashboard once signed in."""
    if not request.user.is_authenticated:
        return render(request, "tutor/landing.html")
    now = timezone.now()
    overview = learner_overview(learner=request.user, now=now)
    history = learner_history(learner=request.user, now=now)
    # Counted as the session recaps count them: tool recordings and words heard in the transcript.
    practised = practised_counts(sessions=history.sessions)
    for session in history.sessions:
        session.words_practised = practised[session.pk]
    return render(request, "tutor/dashboard.html", {"overview": overview, "history": history})


@login_required
@ensure_csrf_cookie
def tutor_page(request: HttpRequest) -> HttpResponse:
    """The voice session page; its script mints a key and connects over WebRTC."""
    return render(request, "tutor/tutor.html")


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

    session = None
    if session_id is not None:
        session = await sync_to_async(tutor_session_get)(learner=learner, session_id=session_id)
        if session is None:
            return _json_error(404, "That tutor session does not exist.", "not_found")
        if session.status in CLOSED_STATUSES:
            if session.end_reason == TIME_LIMIT:
                message = await sync_to_async(limit_message)(session=session)
                return _json_error(403, message, TIME_LIMIT)
            return _json_error(409, "That tutor session has ended; start a new one.", "session_ended")

    try:
        upstream = realtime.upstream_for(request)
    except realtime.RealtimeError as error:
        return _json_error(error.status, error.message, error.code)

    new_session = None
    if session is None:
        plan = await sync_to_async(tutor_plan_build)(learner=learner)
        session_config = plan.session_config
        new_session = {
            "model": session_config["model"],
            "voice": session_config["audio"]["output"]["voice"],
            "instructions": plan.instructions,
            "focus_words": plan.focus_words,
        }
    try:
        # Counts this mint and, for a new session, creates it: all limits checked at once.
        minted_for = await sync_to_async(mint_reserve)(
            learner=learner,
            now=clock.now(),
            upstream_base_url=upstream.base_url,
            session=session,
            new_session=new_session,
        )
    except LimitReached as limit:
        extra = {"session_id": limit.session_id} if limit.session_id is not None else {}
        return _json_error(limit.status, limit.message, limit.code, **extra)

    if session is not None:
        # A resume: the same tutor, told what was said before the call dropped.
        session = minted_for
        session_config = session_config_build(
            instructions=await sync_to_async(resume_instructions_build)(session=session),
            language=learner.target_language,
            model=session.model,
            voice=session.voice,
            transcribe_model=settings.REALTIME_TRANSCRIBE_MODEL,
        )

    try:
        secret = await realtime.client_secret_create(
            session_config=session_config,
            base_url=upstream.base_url,
            api_key=upstream.api_key,
            ttl_seconds=settings.REALTIME_TOKEN_TTL_SECONDS,
        )
    except realtime.RealtimeError as error:
        if session is None:
            # No key, no session: a failed mint leaves none behind (it still counts as a mint).
            await minted_for.adelete()
        else:
            # No key was issued, so no call is owed for it.
            await sync_to_async(mint_release)(session=minted_for)
        return _json_error(error.status, error.message, error.code)

    session = minted_for
    return JsonResponse(
        {
            "client_secret": secret.value,
            "expires_at": secret.expires_at,
            # The key's life by the server's clock, so a page with a wrong clock can judge it.
            "expires_in": max(0, secret.expires_at - int(time.time())),
            "session_id": session.pk,
            "calls_url": upstream.calls_url,
            "model": session.model,
            "voice": session.voice,
            "socket_url": f"/ws/tutor/sessions/{session.pk}/",
        }
    )


@login_required
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    """A session's recap and transcript: the learner's own sessions only."""
    session = learner_session_get(learner=request.user, session_id=session_id)
    items = session.items.order_by("order", "created_at")
    recap = session_recap(session=session, now=timezone.now())
    return render(
        request, "tutor/session_detail.html", {"session": session, "items": items, "recap": recap}
    )


# --- flashcard review -------------------------------------------------------


def _review_round_save(request: HttpRequest, review_round: ReviewRound) -> None:
    request.session[review.SESSION_KEY] = review_round.to_session()


@login_required
def review_page(request: HttpRequest) -> HttpResponse:
    """The next flashcard of the learner's round; a new round when none is going on."""
    now = timezone.now()
    review_round = ReviewRound.from_session(request.session.get(review.SESSION_KEY))
    if review_round is None or review_round.is_stale(now):
        review_round = review.review_round_start(learner=request.user, now=now)
        if not review_round.word_ids:
            return render(request, "tutor/review.html", {"card": None, "round": None})
        _review_round_save(request, review_round)
    card = review.review_round_card(learner=request.user, review_round=review_round, now=now)
    if card is None:
        # The round is over: show its summary once; the next visit starts a new round.
        request.session.pop(review.SESSION_KEY, None)
        context = {
            "card": None,
            "round": review_round,
            "counts": review_round.grade_counts(),
            "graded": review.review_round_words(learner=request.user, review_round=review_round),
            "more": bool(review.review_cards(learner=request.user, now=now, limit=1)),
        }
        return render(request, "tutor/review.html", context)
    _review_round_save(request, review_round)
    context = {
        "card": card,
        "round": review_round,
        "choices": review.grade_choices(progress=card.progress, now=now),
    }
    return render(request, "tutor/review.html", context)


@login_required
@require_POST
def review_grade(request: HttpRequest) -> HttpResponse:
    """Grade the round's current card (again, hard or good) and go on to the next."""
    form = ReviewGradeForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Choose a word and a grade.")
    word = review.review_word_get(learner=request.user, word_id=form.cleaned_data["word"])
    review_round = ReviewRound.from_session(request.session.get(review.SESSION_KEY))
    graded = review_round is not None and review.review_card_grade(
        learner=request.user,
        review_round=review_round,
        word=word,
        grade=form.cleaned_data["grade"],
        now=timezone.now(),
    )
    if graded:
        _review_round_save(request, review_round)
    else:
        messages.info(request, "That card was already graded.")
    return redirect("tutor:review")


# --- written test -----------------------------------------------------------


@login_required
def written_test(request: HttpRequest) -> HttpResponse:
    """A new written test over the learner's due and weak words."""
    test = written_test_build(
        learner=request.user, now=timezone.now(), seed=secrets.randbits(64)
    )
    if test is None:
        return render(request, "tutor/written_test.html", {"form": None})
    form = WrittenTestForm(
        test=test,
        language=request.user.target_language,
        initial={"token": test.token(learner=request.user)},
    )
    return render(request, "tutor/written_test.html", {"form": form})


@login_required
@require_POST
def written_test_submit(request: HttpRequest) -> HttpResponse:
    """Grade a submitted test, once, against the questions it was given."""
    try:
        test = written_test_load(learner=request.user, token=request.POST.get("token", ""))
    except WrittenTestInvalid as error:
        return render(
            request, "tutor/written_test_invalid.html", {"reason": str(error)}, status=400
        )
    form = WrittenTestForm(request.POST, test=test, language=request.user.target_language)
    if not form.is_valid():
        return render(request, "tutor/written_test.html", {"form": form}, status=400)
    try:
        result = written_test_grade(
            learner=request.user, test=test, answers=form.answers(), now=timezone.now()
        )
    except AlreadyGraded as graded:
        messages.info(request, "That test was already graded.")
        if graded.result is not None:
            return redirect("tutor:written-test-result", graded.result.pk)
        return redirect("tutor:home")
    return redirect("tutor:written-test-result", result.pk)


@login_required
def written_test_result(request: HttpRequest, result_id: int) -> HttpResponse:
    """A test result of the learner's: the grade and the misses."""
    result = get_object_or_404(TestResult.objects.filter(learner=request.user), pk=result_id)
    answers = result_answers(result=result)
    context = {
        "result": result,
        "misses": [answer for answer in answers if not answer.correct],
        "hits": [answer for answer in answers if answer.correct],
    }
    return render(request, "tutor/written_test_result.html", context)

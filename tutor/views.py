import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from common import clock
from tutor import flashcards
from tutor.flashcards import ReviewRound
from tutor.forms import ReviewGradeForm, WrittenTestForm
from tutor.history import learner_history, learner_session_get
from tutor.models import TestResult
from tutor.progress import learner_overview
from tutor.recap import session_recap
from tutor.transcript import transcript_entries
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
    if request.user.needs_onboarding:
        return redirect("tutor:onboarding")
    now = clock.now()
    overview = learner_overview(learner=request.user, now=now)
    history = learner_history(learner=request.user, now=now)
    return render(request, "tutor/dashboard.html", {"overview": overview, "history": history})


@login_required
def session_detail(request: HttpRequest, session_id: int) -> HttpResponse:
    """A session's recap and transcript: the learner's own sessions only."""
    session = learner_session_get(learner=request.user, session_id=session_id)
    entries = transcript_entries(list(session.items.order_by("order", "created_at")))
    recap = session_recap(session=session, now=clock.now())
    return render(
        request, "tutor/session_detail.html", {"session": session, "entries": entries, "recap": recap}
    )


# --- flashcard review -------------------------------------------------------


def _review_round_save(request: HttpRequest, review_round: ReviewRound) -> None:
    request.session[flashcards.SESSION_KEY] = review_round.to_session()


@login_required
def review_page(request: HttpRequest) -> HttpResponse:
    """The next flashcard of the learner's round; a new round when none is going on."""
    now = clock.now()
    review_round = ReviewRound.from_session(request.session.get(flashcards.SESSION_KEY))
    if review_round is None or review_round.is_stale(now):
        review_round = flashcards.review_round_start(learner=request.user, now=now)
        if not review_round.word_ids:
            return render(request, "tutor/review.html", {"card": None, "round": None})
        _review_round_save(request, review_round)
    card = flashcards.review_round_card(learner=request.user, review_round=review_round, now=now)
    if card is None:
        # The round is over: show its summary once; the next visit starts a new round.
        request.session.pop(flashcards.SESSION_KEY, None)
        context = {
            "card": None,
            "round": review_round,
            "counts": review_round.grade_counts(),
            "graded": flashcards.review_round_words(learner=request.user, review_round=review_round),
            "more": bool(flashcards.review_cards(learner=request.user, now=now, limit=1)),
            "next_due": flashcards.next_due_in(learner=request.user, now=now),
        }
        return render(request, "tutor/review.html", context)
    _review_round_save(request, review_round)
    context = {
        "card": card,
        "round": review_round,
        "choices": flashcards.grade_choices(learner=request.user, progress=card.progress, now=now),
    }
    return render(request, "tutor/review.html", context)


@login_required
@require_POST
def review_grade(request: HttpRequest) -> HttpResponse:
    """Grade the round's current card (again, hard, good or easy) and go on to the next."""
    form = ReviewGradeForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Choose a word and a grade.")
    word = flashcards.review_word_get(learner=request.user, word_id=form.cleaned_data["word"])
    review_round = ReviewRound.from_session(request.session.get(flashcards.SESSION_KEY))
    graded = review_round is not None and flashcards.review_card_grade(
        learner=request.user,
        review_round=review_round,
        word=word,
        grade=form.cleaned_data["grade"],
        now=clock.now(),
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
        learner=request.user, now=clock.now(), seed=secrets.randbits(64)
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
    blank = form.blank_numbers()
    if len(blank) == len(test.questions):
        # Nothing answered: nothing to grade; the same test again.
        return render(request, "tutor/written_test.html", {"form": form, "nothing_answered": True})
    if blank and not form.cleaned_data["confirm_blanks"]:
        return render(request, "tutor/written_test.html", {"form": form, "blank": blank})
    try:
        result = written_test_grade(
            learner=request.user, test=test, answers=form.answers(), now=clock.now()
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

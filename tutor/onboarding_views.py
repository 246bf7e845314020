"""The learner's own set-up pages: the first run, the placement, their word lists and their
learning settings (languages, level, daily goal)."""

from __future__ import annotations

import secrets

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from tutor.forms import LearnerProfileForm, OnboardingForm, OwnListForm, WrittenTestForm
from tutor.placement import placement_build, placement_grade, placement_load, placement_token
from tutor.starter import (
    StarterListMissing,
    own_list_import,
    starter_available,
    starter_list_assign,
    starter_list_name,
)
from tutor.written_test import WrittenTestInvalid


def _next_page(request: HttpRequest) -> HttpResponse:
    """After set-up: the lists page while the learner has no words, else the dashboard."""
    return redirect("tutor:home" if request.user.word_lists.exists() else "tutor:lists")


@login_required
def onboarding(request: HttpRequest) -> HttpResponse:
    """The first run: languages, level (or the placement) and the daily goal."""
    form = OnboardingForm(request.POST if request.method == "POST" else None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        learner = form.save(commit=False)
        learner.needs_onboarding = False
        learner.save(update_fields=[*form.Meta.fields, "needs_onboarding"])
        if form.cleaned_data["placement"]:
            return redirect("tutor:placement")
        return _next_page(request)
    return render(request, "tutor/onboarding.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def placement(request: HttpRequest) -> HttpResponse:
    """Ten questions that set the level; graded once."""
    language = request.user.target_language
    if not starter_available(language):
        messages.info(request, "There is no placement test for this language yet: pick your level.")
        return redirect("tutor:learning-settings")
    if request.method != "POST":
        test = placement_build(learner=request.user, seed=secrets.randbits(64))
        form = WrittenTestForm(
            test=test, language=language, initial={"token": placement_token(learner=request.user, test=test)}
        )
        return render(request, "tutor/placement.html", {"form": form})
    try:
        test = placement_load(learner=request.user, token=request.POST.get("token", ""))
    except WrittenTestInvalid as error:
        return render(request, "tutor/written_test_invalid.html", {"reason": str(error)}, status=400)
    form = WrittenTestForm(request.POST, test=test, language=language)
    if not form.is_valid():
        return render(request, "tutor/placement.html", {"form": form}, status=400)
    try:
        score, level = placement_grade(learner=request.user, test=test, answers=form.answers())
    except WrittenTestInvalid as error:
        messages.info(request, str(error))
        return _next_page(request)
    messages.success(request, f"{score} of {len(test.questions)} right: your level is {level}.")
    return _next_page(request)


@login_required
def word_lists(request: HttpRequest) -> HttpResponse:
    """The learner's lists, the starter list of their language, and importing their own."""
    return _lists_page(request)


def _lists_page(request: HttpRequest, form: OwnListForm | None = None, report=None, status: int = 200) -> HttpResponse:
    language = request.user.target_language
    lists = request.user.word_lists.select_related("owner").order_by("name")
    starter_name = starter_list_name(language) if starter_available(language) else None
    context = {
        "lists": [(word_list, word_list.words.count()) for word_list in lists],
        "starter_name": starter_name,
        "has_starter": bool(starter_name) and any(wl.name == starter_name and wl.owner_id is None for wl in lists),
        "form": form or OwnListForm(),
        "report": report,
    }
    return render(request, "tutor/word_lists.html", context, status=status)


@login_required
@require_POST
def starter_list_pick(request: HttpRequest) -> HttpResponse:
    """Give the learner the shared starter list of their target language."""
    try:
        word_list = starter_list_assign(learner=request.user, language=request.user.target_language)
    except StarterListMissing as error:
        messages.error(request, str(error))
        return redirect("tutor:lists")
    messages.success(request, f"“{word_list.name}” is on your lists: {word_list.words.count()} words to learn.")
    return redirect("tutor:home")


@login_required
@require_POST
def own_list_upload(request: HttpRequest) -> HttpResponse:
    """Import the learner's own CSV as a list of theirs: all or nothing, every bad row listed."""
    form = OwnListForm(request.POST, request.FILES)
    if not form.is_valid():
        return _lists_page(request, form=form, status=400)
    report = own_list_import(learner=request.user, name=form.cleaned_data["name"], upload=form.cleaned_data["file"])
    if not report.ok:
        return _lists_page(request, form=form, report=report, status=400)
    messages.success(request, report.summary)
    return redirect("tutor:home")


@login_required
def learning_settings(request: HttpRequest) -> HttpResponse:
    """The account page's learning settings: languages, level and daily goal, changed any time."""
    form = LearnerProfileForm(request.POST if request.method == "POST" else None, instance=request.user)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, "Your learning settings are saved.")
        return redirect("tutor:learning-settings")
    return render(request, "tutor/learning_settings.html", {"form": form}, status=400 if form.errors else 200)

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from tutor.progress import learner_overview


def home(request: HttpRequest) -> HttpResponse:
    """The landing page for visitors, the learner's dashboard once signed in."""
    if not request.user.is_authenticated:
        return render(request, "tutor/landing.html")
    overview = learner_overview(learner=request.user, now=timezone.now())
    return render(request, "tutor/dashboard.html", {"overview": overview})

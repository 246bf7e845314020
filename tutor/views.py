from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import ensure_csrf_cookie

from tutor.progress import learner_overview


def home(request: HttpRequest) -> HttpResponse:
    """The landing page for visitors, the learner's dashboard once signed in."""
    if not request.user.is_authenticated:
        return render(request, "tutor/landing.html")
    overview = learner_overview(learner=request.user, now=timezone.now())
    return render(request, "tutor/dashboard.html", {"overview": overview})


@login_required
@ensure_csrf_cookie
def tutor_page(request: HttpRequest) -> HttpResponse:
    """The voice session page; its script mints a key and connects over WebRTC."""
    return render(request, "tutor/tutor.html")

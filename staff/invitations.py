"""Inviting a learner by email: a one-off link to set their password."""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from allauth.core.context import request_context
from django.http import HttpRequest
from django.urls import reverse

from accounts.adapter import site_url
from accounts.models import User

INVITATION_TEMPLATE = "admin/accounts/user/invitation"


def learner_invite(*, request: HttpRequest, learner: User) -> None:
    """Email the learner a link to set their password (allauth's password-reset key).

    The link works once and expires like a password reset (PASSWORD_RESET_TIMEOUT).
    Safe to call after the request's transaction commits: allauth gets the request here.
    """
    with request_context(request):
        _send_invitation(request, learner)


def _send_invitation(request: HttpRequest, learner: User) -> None:
    adapter = get_adapter(request)
    key = f"{user_pk_to_url_str(learner)}-{default_token_generator.make_token(learner)}"
    EmailAddress.objects.get_or_create(
        user=learner,
        email__iexact=learner.email,
        defaults={"email": learner.email, "primary": True},
    )
    adapter.send_mail(
        INVITATION_TEMPLATE,
        learner.email,
        {
            "user": learner,
            "learner_name": learner.name,
            "inviter": request.user,
            "set_password_url": adapter.get_reset_password_from_key_url(key),
            "login_url": site_url(request.build_absolute_uri(reverse("account_login"))),
        },
    )

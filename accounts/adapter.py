"""Account policy, in allauth's adapter: who may sign up, and what a new learner may use.

- ``SIGNUP_MODE``: ``open`` lets anyone sign up; ``invitation`` closes the sign-up page (staff
  invite learners in the admin).
- A self-signed-up learner starts with ``SIGNUP_VOICE_MINUTES`` daily voice minutes (staff
  grant more in the admin); new users are learners, never staff.
- A self-signed-up learner is then asked their languages, level and daily goal
  (``needs_onboarding``; the first-run page is ``/start/``).
- With email verification on (``optional`` or ``mandatory``), voice practice needs a verified
  address (``voice_blocked_reason``): a new address could otherwise spend the server's
  OpenAI credit. Setting a password from an emailed link (an invitation or a password reset)
  proves the address, so it marks it verified.
- Emails name the site ``SITE_NAME`` and its ``SITE_DOMAIN`` (the request's host when that is
  empty), in the greeting, the subject prefix and the links, never whatever host served the
  request that sent them.
"""

from __future__ import annotations

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.account.signals import password_reset
from types import SimpleNamespace
from urllib.parse import urlsplit, urlunsplit

from allauth.core import context
from django.conf import settings
from django.dispatch import receiver
from django.shortcuts import resolve_url

EMAIL_UNVERIFIED = "email_unverified"
EMAIL_UNVERIFIED_MESSAGE = (
    "Confirm your email address to turn on voice practice: open the link we emailed to {email}, "
    "or ask for a new one on your email page."
)


def site_of(request) -> SimpleNamespace:
    """The site as emails name it: ``SITE_NAME`` and ``SITE_DOMAIN`` (or the request's host)."""
    domain = settings.SITE_DOMAIN or (request.get_host() if request is not None else "")
    return SimpleNamespace(name=settings.SITE_NAME, domain=domain)


def site_url(url: str) -> str:
    """``url`` on ``SITE_DOMAIN`` when one is configured."""
    if not settings.SITE_DOMAIN:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=settings.SITE_DOMAIN))


class AccountAdapter(DefaultAccountAdapter):
    def send_mail(self, template_prefix: str, email: str, context_: dict) -> None:
        request = context.request
        ctx = {"request": request, "email": email, "current_site": site_of(request), **context_}
        self.render_mail(template_prefix, email, ctx).send()

    def format_email_subject(self, subject: str) -> str:
        prefix = allauth_settings.EMAIL_SUBJECT_PREFIX
        return (f"[{settings.SITE_NAME}] " if prefix is None else prefix) + str(subject)

    def get_reset_password_from_key_url(self, key: str) -> str:
        return site_url(super().get_reset_password_from_key_url(key))

    def get_email_confirmation_url(self, request, emailconfirmation) -> str:
        return site_url(super().get_email_confirmation_url(request, emailconfirmation))

    def is_open_for_signup(self, request) -> bool:
        return settings.SIGNUP_MODE == "open"

    def save_user(self, request, user, form, commit=True):
        user = super().save_user(request, user, form, commit=False)
        user.is_staff = False
        user.is_superuser = False
        user.daily_voice_minutes = settings.SIGNUP_VOICE_MINUTES
        # Nobody asked them their languages and level yet: the first-run page does.
        user.needs_onboarding = True
        if commit:
            user.save()
        return user

    def get_signup_redirect_url(self, request) -> str:
        return resolve_url("tutor:onboarding")


def verification_required() -> bool:
    return allauth_settings.EMAIL_VERIFICATION != allauth_settings.EmailVerificationMethod.NONE


def voice_blocked_reason(user) -> str | None:
    """Why ``user`` may not start voice practice yet, or None.

    Only an address allauth knows and has not verified blocks: learners staff created with a
    password (no address record) were vouched for by staff.
    """
    if not verification_required():
        return None
    addresses = list(EmailAddress.objects.filter(user=user).values_list("email", "verified"))
    if not addresses or any(verified for _, verified in addresses):
        return None
    return EMAIL_UNVERIFIED_MESSAGE.format(email=user.email)


@receiver(password_reset)
def _reset_link_verifies_address(sender, request, user, **kwargs) -> None:
    """The reset (or invitation) link reached the learner's mailbox: the address is theirs."""
    EmailAddress.objects.filter(user=user, email__iexact=user.email).update(verified=True)

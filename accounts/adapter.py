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
"""

from __future__ import annotations

from allauth.account import app_settings as allauth_settings
from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.models import EmailAddress
from allauth.account.signals import password_reset
from django.conf import settings
from django.dispatch import receiver
from django.shortcuts import resolve_url

EMAIL_UNVERIFIED = "email_unverified"
EMAIL_UNVERIFIED_MESSAGE = (
    "Confirm your email address to turn on voice practice: open the link we emailed to {email}, "
    "or ask for a new one on your email page."
)


class AccountAdapter(DefaultAccountAdapter):
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

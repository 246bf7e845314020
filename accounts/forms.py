"""Staff forms for learners, and the invitation email they can send."""

from __future__ import annotations

from allauth.account.adapter import get_adapter
from allauth.account.forms import default_token_generator
from allauth.account.models import EmailAddress
from allauth.account.utils import user_pk_to_url_str
from allauth.core.context import request_context
from django import forms
from django.contrib.auth import password_validation
from django.http import HttpRequest
from django.urls import reverse

from accounts.models import User
from tutor.models import WordList

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
            "login_url": request.build_absolute_uri(reverse("account_login")),
        },
    )


class LearnerCreationForm(forms.ModelForm):
    """Create a learner: profile, word lists, and either a password or an invitation."""

    word_lists = forms.ModelMultipleChoiceField(
        queryset=WordList.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Lists the learner practises.",
    )
    send_invitation = forms.BooleanField(
        label="Send an invitation email",
        required=False,
        initial=True,
        help_text="The learner gets a link to choose their own password.",
    )
    password1 = forms.CharField(
        label="Password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Optional. Leave blank to let the learner set it from the invitation.",
    )
    password2 = forms.CharField(
        label="Password (again)",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    class Meta:
        model = User
        fields = [
            "email",
            "display_name",
            "native_language",
            "target_language",
            "cefr_level",
            "daily_voice_minutes",
        ]

    def clean_email(self) -> str:
        email = User.objects.normalize_email(self.cleaned_data["email"]).lower()
        if User.objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("A user with this email address already exists.")
        return email

    def clean(self):
        cleaned = super().clean()
        password1 = cleaned.get("password1")
        password2 = cleaned.get("password2")
        if password1 != password2:
            self.add_error("password2", "The two passwords differ.")
        elif password1:
            self.instance.email = cleaned.get("email", "")
            try:
                password_validation.validate_password(password1, self.instance)
            except forms.ValidationError as error:
                self.add_error("password1", error)
        elif not cleaned.get("send_invitation"):
            raise forms.ValidationError(
                "Set a password or tick “Send an invitation email”, or the learner can’t sign in."
            )
        return cleaned

    def save(self, commit: bool = True) -> User:
        user = super().save(commit=False)
        if self.cleaned_data.get("password1"):
            user.set_password(self.cleaned_data["password1"])
        else:
            user.set_unusable_password()
        if commit:
            user.save()
            self._save_m2m()
        return user

    def _save_m2m(self) -> None:
        super()._save_m2m()
        for word_list in self.cleaned_data.get("word_lists") or []:
            self.instance.assignments.get_or_create(word_list=word_list)

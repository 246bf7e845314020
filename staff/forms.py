"""Staff forms for learners."""

from __future__ import annotations

from django import forms
from django.contrib.auth import password_validation

from accounts.models import User
from tutor.models import Classroom, WordList


class LearnerCreationForm(forms.ModelForm):
    """Create a learner: profile, word lists, and either a password or an invitation."""

    word_lists = forms.ModelMultipleChoiceField(
        queryset=WordList.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Lists the learner practises.",
    )
    classroom = forms.ModelChoiceField(
        queryset=Classroom.objects.none(),
        required=False,
        label="Class",
        help_text="The learner joins the class and gets its word lists.",
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

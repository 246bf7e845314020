"""Forms of the learner's pages: grading a flashcard, answering a written test, the learner's
languages, level and daily goal, and a list of their own."""

from __future__ import annotations

from django import forms

from accounts.models import User
from tutor.flashcards import GRADE_LABELS
from tutor.starter import STARTER_LANGUAGES
from tutor.written_test import CHOICE, Question, WrittenTest

MAX_ANSWER_CHARS = 200
MAX_TOKEN_CHARS = 20_000
MAX_UPLOAD_BYTES = 2 * 1024 * 1024


class LearnerProfileForm(forms.ModelForm):
    """What the learner learns, from which language, at which level, and how much a day."""

    class Meta:
        model = User
        fields = ["target_language", "native_language", "cefr_level", "daily_goal_words"]
        labels = {
            "target_language": "I am learning",
            "native_language": "My language",
            "cefr_level": "My level",
            "daily_goal_words": "Daily goal (words a day)",
        }
        help_texts = {"daily_goal_words": "How many words you mean to practise each day, 1 to 200."}
        widgets = {"daily_goal_words": forms.NumberInput(attrs={"min": 1, "max": 200, "inputmode": "numeric"})}

    def clean(self):
        data = super().clean()
        if data.get("target_language") and data.get("target_language") == data.get("native_language"):
            self.add_error("target_language", "Pick a language other than your own.")
        return data


class OnboardingForm(LearnerProfileForm):
    placement = forms.BooleanField(
        required=False,
        label="Not sure of my level: place me with a ten-question test",
    )

    def clean(self):
        data = super().clean()
        language = data.get("target_language")
        if data.get("placement") and language and language not in STARTER_LANGUAGES:
            self.add_error(
                "placement",
                "The placement test is there for Spanish, French and German; pick your level instead.",
            )
        return data


class OwnListForm(forms.Form):
    name = forms.CharField(label="List name", max_length=120)
    file = forms.FileField(
        label="CSV file",
        help_text="Columns term and meaning (example and part_of_speech are optional), with a header row.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError("The file is larger than 2 MB. Split it into smaller files.")
        return upload


class ReviewGradeForm(forms.Form):
    word = forms.IntegerField(min_value=1)
    grade = forms.ChoiceField(choices=list(GRADE_LABELS.items()))


class WrittenTestForm(forms.Form):
    """The hidden signed question set plus one answer field per question.

    Any answer may be left blank (it counts as not known) once the learner confirms it
    with the second button, ``confirm_blanks``; a test with no answer at all is not
    graded. A choice must be one of the question's options.
    """

    token = forms.CharField(widget=forms.HiddenInput, max_length=MAX_TOKEN_CHARS)
    confirm_blanks = forms.BooleanField(required=False)

    def __init__(self, *args, test: WrittenTest, language: str = "", **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.test = test
        for question in test.questions:
            if question.kind == CHOICE:
                field: forms.Field = forms.ChoiceField(
                    label=question.word.meaning,
                    # Numbered, not word ids: a value tells nothing (``answers`` maps it back).
                    choices=[(str(n), option.term) for n, option in enumerate(question.options, start=1)],
                    widget=forms.RadioSelect(attrs={"lang": language} if language else {}),
                    required=False,
                )
            else:
                field = forms.CharField(
                    label=question.word.meaning,
                    max_length=MAX_ANSWER_CHARS,
                    required=False,
                    widget=forms.TextInput(
                        attrs={
                            "autocomplete": "off",
                            "autocapitalize": "off",
                            "spellcheck": "false",
                            **({"lang": language} if language else {}),
                        }
                    ),
                )
            self.fields[question.field_name] = field

    def questions(self) -> list[tuple[Question, forms.BoundField]]:
        return [(question, self[question.field_name]) for question in self.test.questions]

    def blank_numbers(self) -> list[int]:
        """The numbers of the questions left unanswered (on a valid form)."""
        return [number for number, given in self.answers().items() if not given.strip()]

    def answers(self) -> dict[int, str]:
        """Each answer by question number; a choice as the chosen word's id, for grading."""
        return {question.number: self._answer(question) for question in self.test.questions}

    def _answer(self, question: Question) -> str:
        value = self.cleaned_data.get(question.field_name) or ""
        if question.kind == CHOICE and value:
            return str(question.options[int(value) - 1].pk)
        return value

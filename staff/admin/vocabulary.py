"""Word lists, their words and assignments in the admin, and the CSV word import."""


from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path

from accounts.models import LANGUAGES
from tutor.models import (
    Assignment,
    Word,
    WordList,
)
from staff.admin.classrooms import ClassroomListForm, action_form_response
from staff.scope import TeacherScoped
from tutor.classrooms import classroom_list_assign
from tutor.vocabulary_import import MAX_BYTES, MAX_ROWS, word_list_import

MAX_SHOWN_ERRORS = 100
IMPORT_TEMPLATE_CSV = (
    "term,meaning,example,part_of_speech\n"
    "gato,cat,El gato duerme.,noun\n"
    "correr,to run,Me gusta correr.,verb\n"
)


# --- word lists and the CSV import ----------------------------------------


class WordInline(admin.TabularInline):
    model = Word
    extra = 1
    fields = ["position", "term", "meaning", "example", "part_of_speech"]


class AssignmentInline(TeacherScoped, admin.TabularInline):
    model = Assignment
    extra = 1
    autocomplete_fields = ["learner"]


class WordListImportForm(forms.Form):
    word_list = forms.ModelChoiceField(
        queryset=WordList.objects.all(),
        required=False,
        label="Add to the list",
        help_text="New terms are added; terms already in the list get the file’s meaning.",
    )
    name = forms.CharField(
        max_length=120, required=False, label="or create the list", help_text="Name of a new list."
    )
    language = forms.ChoiceField(
        choices=[("", "---------"), *LANGUAGES], required=False, help_text="Needed for a new list."
    )
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    file = forms.FileField(
        label="CSV file",
        help_text=(
            "Header row: term, meaning, example, part of speech (example and part of speech are "
            "optional; “example sentence” works too). UTF-8, comma or semicolon separated, up to {MAX_ROWS:,} rows and "
            f"{MAX_BYTES // (1024 * 1024)} MB."
        ),
    )

    def clean(self):
        cleaned = super().clean()
        word_list, name = cleaned.get("word_list"), cleaned.get("name", "").strip()
        if word_list and name:
            raise forms.ValidationError("Choose an existing list or name a new one, not both.")
        if not word_list and not name:
            raise forms.ValidationError("Choose a list to add to, or name a new one.")
        if name and not cleaned.get("language"):
            self.add_error("language", "Choose the language of the new list.")
        return cleaned


@admin.register(WordList)
class WordListAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "owner", "word_count", "learner_count", "created_at"]
    list_filter = ["language"]
    search_fields = ["name", "description"]
    inlines = [WordInline, AssignmentInline]
    change_list_template = "admin/tutor/wordlist/change_list.html"
    actions = ["assign_to_class"]

    def has_assign_to_class_permission(self, request) -> bool:
        return request.user.has_perm("tutor.change_classroom")

    @admin.action(description="Assign to a class (with a due date)", permissions=["assign_to_class"])
    def assign_to_class(self, request, queryset):
        form = ClassroomListForm(request.POST if "apply" in request.POST else None, user=request.user)
        if form.is_valid():
            classroom, due_on = form.cleaned_data["classroom"], form.cleaned_data["due_on"]
            word_lists = list(queryset)
            for word_list in word_lists:
                classroom_list_assign(classroom=classroom, word_list=word_list, due_on=due_on)
            names = ", ".join(word_list.name for word_list in word_lists)
            due = f", due {due_on:%Y-%m-%d}" if due_on else ""
            self.message_user(request, f"Assigned {names} to {classroom.name}{due}.", messages.SUCCESS)
            return None
        return action_form_response(
            self, request, queryset, form=form, action="assign_to_class",
            title="Assign word lists to a class", button="Assign",
        )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                _words=Count("words", distinct=True), _learners=Count("assignments", distinct=True)
            )
        )

    @admin.display(description="words", ordering="_words")
    def word_count(self, obj) -> int:
        return obj._words

    @admin.display(description="learners", ordering="_learners")
    def learner_count(self, obj) -> int:
        return obj._learners

    def get_urls(self):
        return [
            path(
                "import/",
                self.admin_site.admin_view(self.import_view),
                name="tutor_wordlist_import",
            ),
            path(
                "import/template.csv",
                self.admin_site.admin_view(self.import_template_view),
                name="tutor_wordlist_import_template",
            ),
            *super().get_urls(),
        ]

    def import_template_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        response = HttpResponse(IMPORT_TEMPLATE_CSV, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="parlance-words.csv"'
        return response

    def import_view(self, request):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        initial = {"word_list": request.GET.get("word_list")} if request.GET.get("word_list") else {}
        form = WordListImportForm(request.POST or None, request.FILES or None, initial=initial)
        report = None
        if request.method == "POST" and form.is_valid():
            word_list = form.cleaned_data["word_list"]
            report = word_list_import(
                name=word_list.name if word_list else form.cleaned_data["name"],
                language=form.cleaned_data["language"] or None,
                description=form.cleaned_data["description"],
                rows_or_file=form.cleaned_data["file"],
                owner=word_list.owner if word_list else None,  # a learner's own list stays theirs
            )
            if report.ok:
                self.message_user(request, report.summary, messages.SUCCESS)
                return redirect("admin:tutor_wordlist_change", report.word_list.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import words from CSV",
            "form": form,
            "report": report,
            "errors": report.errors[:MAX_SHOWN_ERRORS] if report else (),
            "more_errors": max(0, len(report.errors) - MAX_SHOWN_ERRORS) if report else 0,
        }
        return TemplateResponse(request, "admin/tutor/wordlist/import.html", context)


@admin.register(Word)
class WordAdmin(admin.ModelAdmin):
    list_display = ["term", "meaning", "part_of_speech", "word_list"]
    list_filter = ["word_list", "part_of_speech", "word_list__language"]
    search_fields = ["term", "meaning", "example"]
    list_select_related = ["word_list"]


@admin.register(Assignment)
class AssignmentAdmin(TeacherScoped, admin.ModelAdmin):
    list_display = ["learner", "word_list", "assigned_at"]
    list_filter = ["word_list"]
    search_fields = ["learner__email", "word_list__name"]
    autocomplete_fields = ["learner", "word_list"]
    list_select_related = ["learner", "word_list"]

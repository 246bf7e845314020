"""Vocabulary, progress, grades and voice sessions in the admin, plus the CSV word import."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from accounts.models import LANGUAGES
from tutor.exports import csv_response, export_filename, grade_rows, progress_rows
from tutor.models import (
    Assignment,
    ConversationItem,
    OralQuiz,
    Review,
    TestResult,
    TutorSession,
    Word,
    WordList,
    WordProgress,
)
from tutor.srs import MASTERED_INTERVAL_DAYS
from tutor.usage import prices_from_settings, usage_by_learner_day, usage_totals
from tutor.vocabulary_import import MAX_BYTES, MAX_ROWS, word_list_import

MAX_SHOWN_ERRORS = 100


# --- word lists and the CSV import ----------------------------------------


class WordInline(admin.TabularInline):
    model = Word
    extra = 1
    fields = ["position", "term", "meaning", "example", "part_of_speech"]


class AssignmentInline(admin.TabularInline):
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
            "Header row: term, meaning, example, part_of_speech (example and part of speech are "
            f"optional). UTF-8, comma or semicolon separated, up to {MAX_ROWS:,} rows and "
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
    list_display = ["name", "language", "word_count", "learner_count", "created_at"]
    list_filter = ["language"]
    search_fields = ["name", "description"]
    inlines = [WordInline, AssignmentInline]
    change_list_template = "admin/tutor/wordlist/change_list.html"

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
            *super().get_urls(),
        ]

    def import_view(self, request):
        if not (self.has_add_permission(request) and self.has_change_permission(request)):
            raise PermissionDenied
        form = WordListImportForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            word_list = form.cleaned_data["word_list"]
            report = word_list_import(
                name=word_list.name if word_list else form.cleaned_data["name"],
                language=form.cleaned_data["language"] or None,
                description=form.cleaned_data["description"],
                rows_or_file=form.cleaned_data["file"],
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
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["learner", "word_list", "assigned_at"]
    list_filter = ["word_list"]
    search_fields = ["learner__email", "word_list__name"]
    autocomplete_fields = ["learner", "word_list"]
    list_select_related = ["learner", "word_list"]


# --- progress and grades ----------------------------------------------------


class WordStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [
            ("new", "New"),
            ("learning", "Learning"),
            ("due", "Due now"),
            ("mastered", "Mastered"),
        ]

    def queryset(self, request, queryset):
        reviewed = Q(last_reviewed_at__isnull=False)
        mastered = Q(interval_days__gte=MASTERED_INTERVAL_DAYS)
        filters = {
            "new": Q(last_reviewed_at__isnull=True),
            "learning": reviewed & ~mastered,
            "due": reviewed & Q(due_at__lte=timezone.now()),
            "mastered": reviewed & mastered,
        }
        return queryset.filter(filters[self.value()]) if self.value() in filters else queryset


@admin.register(WordProgress)
class WordProgressAdmin(admin.ModelAdmin):
    list_display = [
        "learner",
        "word",
        "word_list",
        "state",
        "due_at",
        "last_result",
        "repetitions",
        "interval_days",
        "correct_count",
        "incorrect_count",
        "last_reviewed_at",
    ]
    list_filter = [
        WordStateFilter,
        "learner__cefr_level",
        "word__word_list",
        "last_result",
        "last_reviewed_at",
    ]
    search_fields = ["learner__email", "learner__display_name", "word__term", "word__meaning"]
    list_select_related = ["learner", "word__word_list"]
    raw_id_fields = ["learner", "word"]
    date_hierarchy = "due_at"
    actions = ["export_progress"]

    @admin.display(description="word list", ordering="word__word_list__name")
    def word_list(self, obj) -> str:
        return obj.word.word_list.name

    @admin.display(description="state")
    def state(self, obj) -> str:
        return "due" if not obj.is_new and obj.is_due() else obj.state

    @admin.action(description="Export progress as CSV")
    def export_progress(self, request, queryset):
        return csv_response(progress_rows(queryset), filename=export_filename("progress"))


@admin.register(TestResult)
class TestResultAdmin(admin.ModelAdmin):
    list_display = ["learner", "word_list", "taken_at", "score", "max_score", "percent", "source"]
    list_filter = ["source", "learner__cefr_level", "word_list", "taken_at"]
    search_fields = ["learner__email", "learner__display_name", "word_list__name"]
    list_select_related = ["learner", "word_list"]
    raw_id_fields = ["learner"]
    date_hierarchy = "taken_at"
    actions = ["export_grades"]

    @admin.display(description="%")
    def percent(self, obj) -> int:
        return obj.percent

    @admin.action(description="Export grades as CSV")
    def export_grades(self, request, queryset):
        return csv_response(grade_rows(queryset), filename=export_filename("grades"))


# --- voice sessions and their transcripts ------------------------------------


def _flag_marker(item: ConversationItem) -> str:
    if not item.flagged:
        return ""
    return format_html(
        '<strong class="flagged"><img src="{}" alt=""> ⚑ {}</strong>',
        static("admin/img/icon-alert.svg"),
        item.flag_reason or "flagged",
    )


class ConversationItemInline(admin.TabularInline):
    model = ConversationItem
    fields = ["order", "role", "kind", "transcript_text", "flag", "item_id", "created_at"]
    readonly_fields = fields
    ordering = ["order", "created_at"]
    extra = 0
    can_delete = False
    show_change_link = False
    verbose_name = "transcript item"
    verbose_name_plural = "transcript"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="text")
    def transcript_text(self, obj: ConversationItem) -> str:
        if obj.flagged:
            return format_html('<mark class="flagged-item">{}</mark>', obj.text)
        return obj.text

    @admin.display(description="flagged")
    def flag(self, obj: ConversationItem) -> str:
        return _flag_marker(obj)


class YesNoFilter(admin.SimpleListFilter):
    """A list filter with two choices: rows where ``yes`` holds, and the others."""

    yes: Q
    yes_label = ""
    no_label = ""

    def lookups(self, request, model_admin):
        return [("yes", self.yes_label), ("no", self.no_label)]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(self.yes)
        if self.value() == "no":
            return queryset.exclude(self.yes)
        return queryset


class HasFlaggedItemsFilter(YesNoFilter):
    title = "flagged items"
    parameter_name = "flagged"
    yes = Q(_flagged__gt=0)
    yes_label, no_label = "With flagged items", "Without flagged items"


class UnreportedCallFilter(YesNoFilter):
    title = "call reported"
    parameter_name = "call_reported"
    yes = Q(keys_unreported=0)
    yes_label, no_label = "Every key's call reported", "A key's call was never reported"


class UsageRangeForm(forms.Form):
    DEFAULT_DAYS = 14

    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("start"), cleaned.get("end")
        if start and end and start > end:
            raise forms.ValidationError("The start date must not be after the end date.")
        if start and end and (end - start).days > 366:
            raise forms.ValidationError("Choose at most a year.")
        return cleaned


@admin.register(TutorSession)
class TutorSessionAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "learner",
        "status",
        "minted_at",
        "minutes",
        "item_count",
        "flagged_count",
        "end_reason",
    ]
    list_filter = [
        HasFlaggedItemsFilter,
        UnreportedCallFilter,
        "status",
        "learner__cefr_level",
        "model",
        "minted_at",
    ]
    search_fields = ["learner__email", "learner__display_name", "call_id"]
    list_select_related = ["learner"]
    raw_id_fields = ["learner"]
    date_hierarchy = "minted_at"
    readonly_fields = [
        "minted_at",
        "connected_at",
        "ended_at",
        "minutes",
        "call_id",
        "hangup_at",
        "usage",
        "instructions",
        "focus_words",
    ]
    inlines = [ConversationItemInline]
    change_list_template = "admin/tutor/tutorsession/change_list.html"

    def get_urls(self):
        return [
            path(
                "usage/",
                self.admin_site.admin_view(self.usage_view),
                name="tutor_tutorsession_usage",
            ),
            *super().get_urls(),
        ]

    def usage_view(self, request):
        """Minutes, tokens and estimated cost per learner per day (staff who may view sessions)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        form = UsageRangeForm(request.GET or None)
        start, end = today - dt.timedelta(days=UsageRangeForm.DEFAULT_DAYS - 1), today
        if form.is_valid():
            start = form.cleaned_data["start"] or start
            end = form.cleaned_data["end"] or end
        start = max(start, end - dt.timedelta(days=366))
        rows = usage_by_learner_day(start=start, end=end, now=timezone.now()) if start <= end else []
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Voice usage and estimated cost",
            "form": form,
            "start": start,
            "end": end,
            "rows": rows,
            "totals": usage_totals(rows),
            "prices": prices_from_settings(),
        }
        return TemplateResponse(request, "admin/tutor/tutorsession/usage.html", context)

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(_items=Count("items"), _flagged=Count("items", filter=Q(items__flagged=True)))
        )

    @admin.display(description="minutes")
    def minutes(self, obj: TutorSession) -> str:
        duration: dt.timedelta | None = obj.duration
        return f"{duration.total_seconds() / 60:.1f}" if duration is not None else "—"

    @admin.display(description="items", ordering="_items")
    def item_count(self, obj: TutorSession) -> int:
        return obj._items

    @admin.display(description="flagged", ordering="_flagged")
    def flagged_count(self, obj: TutorSession) -> str:
        if not obj._flagged:
            return "0"
        url = reverse("admin:tutor_conversationitem_changelist")
        return format_html(
            '<a class="flagged" href="{}?session__id__exact={}&amp;flagged__exact=1">⚑ {}</a>',
            url,
            obj.pk,
            obj._flagged,
        )


class FlaggedItemsFilter(admin.SimpleListFilter):
    title = "flagged items"
    parameter_name = "flagged__exact"

    def lookups(self, request, model_admin):
        return [("1", "Flagged by the guardrail"), ("0", "Not flagged")]

    def queryset(self, request, queryset):
        if self.value() in {"0", "1"}:
            return queryset.filter(flagged=self.value() == "1")
        return queryset


@admin.register(ConversationItem)
class ConversationItemAdmin(admin.ModelAdmin):
    list_display = [
        "session",
        "learner",
        "order",
        "role",
        "kind",
        "flag",
        "short_text",
        "created_at",
    ]
    list_filter = [FlaggedItemsFilter, "role", "kind", "created_at"]
    search_fields = ["text", "flag_reason", "item_id", "session__learner__email"]
    list_select_related = ["session__learner"]
    raw_id_fields = ["session"]
    date_hierarchy = "created_at"

    @admin.display(description="learner", ordering="session__learner__email")
    def learner(self, obj) -> str:
        return obj.session.learner.email

    @admin.display(description="flagged", ordering="flagged")
    def flag(self, obj) -> str:
        return _flag_marker(obj)

    @admin.display(description="text")
    def short_text(self, obj) -> str:
        return obj.text[:80]


@admin.register(Review)
class ReviewAdmin(admin.ModelAdmin):
    list_display = ["learner", "word", "outcome", "source", "session", "reviewed_at"]
    list_filter = ["source", "outcome", "reviewed_at"]
    search_fields = ["learner__email", "word__term"]
    list_select_related = ["learner", "word"]
    raw_id_fields = ["learner", "word", "session"]
    date_hierarchy = "reviewed_at"


@admin.register(OralQuiz)
class OralQuizAdmin(admin.ModelAdmin):
    list_display = ["session", "learner", "started_at", "finished_at", "grade"]
    list_filter = ["started_at"]
    search_fields = ["session__learner__email"]
    list_select_related = ["session__learner", "result"]
    raw_id_fields = ["session", "result"]

    @admin.display(description="learner", ordering="session__learner__email")
    def learner(self, obj) -> str:
        return obj.session.learner.email

    @admin.display(description="grade")
    def grade(self, obj) -> str:
        return f"{obj.result.score}/{obj.result.max_score}" if obj.result else "—"

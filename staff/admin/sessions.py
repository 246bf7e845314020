"""Voice sessions, their transcripts and the usage and costs report in the admin."""


from __future__ import annotations

import datetime as dt

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db.models import Count, Q
from django.db.models.functions import Length, Substr
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from common import clock
from tutor.models import (
    ConversationItem,
    TutorSession,
)
from staff.scope import TeacherScoped
from tutor.classrooms import learners_taught_by
from voice.usage import prices_from_settings, usage_by_learner_day, usage_totals

# --- voice sessions and their transcripts ------------------------------------


def _flag_marker(item: ConversationItem) -> str:
    if not item.flagged:
        return ""
    return format_html(
        '<strong class="flagged"><img src="{}" alt=""> ⚑ {}</strong>',
        static("admin/img/icon-alert.svg"),
        item.flag_reason or "flagged",
    )


TRANSCRIPT_PAGE_ITEMS = 50
TRANSCRIPT_SHOWN_CHARS = 2_000


def transcript_page(session: TutorSession, number) -> tuple[Page, list[ConversationItem]]:
    """One page of ``session``'s items, newest page first, in conversation order on the page.

    Two queries whatever the session holds: the count and the page's rows, each row's text
    cut to ``TRANSCRIPT_SHOWN_CHARS`` by the database (``shown``, ``length``).
    """
    items = (
        ConversationItem.objects.filter(session=session)
        .order_by("-order", "-created_at", "-pk")
        .only("item_id", "role", "kind", "order", "created_at", "flagged", "flag_reason", "verified")
        .annotate(shown=Substr("text", 1, TRANSCRIPT_SHOWN_CHARS), length=Length("text"))
    )
    page = Paginator(items, TRANSCRIPT_PAGE_ITEMS).get_page(number)
    return page, list(reversed(page.object_list))


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
    """A range of days; empty fields mean this month so far."""

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
class TutorSessionAdmin(TeacherScoped, admin.ModelAdmin):
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
        "learner",
        "status",
        "model",
        "voice",
        "end_reason",
        "call_refused",
        "keys_unreported",
        "speaking_seconds",
        "sideband_joined_at",
        "upstream_base_url",
        "minted_at",
        "connected_at",
        "ended_at",
        "minutes",
        "call_id",
        "hangup_at",
        "usage",
        "transcript",
        "instructions",
        "focus_words",
    ]
    change_list_template = "admin/tutor/tutorsession/change_list.html"

    def get_readonly_fields(self, request, obj=None):
        """What happened on a session is the server's record: read-only once it exists."""
        if obj is None:
            return [f for f in self.readonly_fields if f not in {"learner", "status", "model", "voice"}]
        return self.readonly_fields

    def get_urls(self):
        return [
            path(
                "usage/",
                self.admin_site.admin_view(self.usage_view),
                name="tutor_tutorsession_usage",
            ),
            path(
                "<int:session_id>/transcript/",
                self.admin_site.admin_view(self.transcript_view),
                name="tutor_tutorsession_transcript",
            ),
            *super().get_urls(),
        ]

    def transcript_view(self, request, session_id: int):
        """The session's items as a read-only chat, a page at a time, newest page first."""
        session = get_object_or_404(self.get_queryset(request).select_related("learner"), pk=session_id)
        if not self.has_view_permission(request, session):
            raise PermissionDenied
        page, items = transcript_page(session, request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": session,
            "title": f"Transcript of session {session.pk}",
            "page": page,
            "items": items,
            "shown_chars": TRANSCRIPT_SHOWN_CHARS,
            "watched": session.sideband_joined_at is not None,
        }
        return TemplateResponse(request, "admin/tutor/tutorsession/transcript.html", context)

    @admin.display(description="transcript")
    def transcript(self, obj: TutorSession) -> str:
        if obj.pk is None:
            return "—"
        url = reverse("admin:tutor_tutorsession_transcript", args=[obj.pk])
        return format_html('<a href="{}">Read the transcript ({} items)</a>', url, obj.items.count())

    def usage_view(self, request):
        """Minutes, tokens and estimated cost per learner per day (staff who may view sessions)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        today = timezone.localdate()
        start, end = today.replace(day=1), today
        form = UsageRangeForm(request.GET or None, initial={"start": start, "end": end})
        if form.is_valid():
            start = form.cleaned_data["start"] or start
            end = form.cleaned_data["end"] or end
        start = max(start, end - dt.timedelta(days=366))
        rows = (
            usage_by_learner_day(
                start=start, end=end, now=clock.now(), learners=learners_taught_by(request.user)
            )
            if start <= end
            else []
        )
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
    def item_count(self, obj: TutorSession) -> str:
        url = reverse("admin:tutor_tutorsession_transcript", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj._items)

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
class ConversationItemAdmin(TeacherScoped, admin.ModelAdmin):
    learner_path = "session__learner"
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

"""Learners in the admin: progress at a glance, assignments, invitations and exports."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.db.models import (
    Avg,
    Count,
    DateTimeField,
    Exists,
    FloatField,
    IntegerField,
    Max,
    OuterRef,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import Cast, Coalesce, Greatest, NullIf
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html

from accounts.models import User
from common import clock
from staff.exports import csv_response, export_filename, grade_rows, progress_rows
from staff.forms import LearnerCreationForm
from staff.invitations import learner_invite
from tutor.models import Assignment, TestResult, TutorSession, WordProgress
from tutor.srs import MASTERED_INTERVAL_DAYS

NEVER = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _per_learner(queryset: QuerySet, expression, output_field) -> Subquery:
    """One aggregate of ``queryset`` for the outer learner, as a correlated subquery."""
    return Subquery(
        queryset.filter(learner=OuterRef("pk"))
        .order_by()
        .values("learner")
        .annotate(value=expression)
        .values("value")[:1],
        output_field=output_field,
    )


def learners_with_progress(queryset: QuerySet[User], *, now: dt.datetime) -> QuerySet[User]:
    """Annotate each user with words mastered and due (in assigned lists), last activity and
    average grade, as subqueries: one query however many learners are listed.

    ``_last_active`` is the latest of the last login, last review and last voice session.
    """
    assigned = WordProgress.objects.filter(
        Exists(
            Assignment.objects.filter(
                learner=OuterRef("learner"), word_list=OuterRef("word__word_list")
            )
        )
    )
    reviewed = assigned.filter(last_reviewed_at__isnull=False)
    last_review = _per_learner(WordProgress.objects.all(), Max("last_reviewed_at"), DateTimeField())
    last_session = _per_learner(
        TutorSession.objects.all(),
        Max(Coalesce("ended_at", "connected_at", "minted_at")),
        DateTimeField(),
    )
    never = Value(NEVER, output_field=DateTimeField())
    return queryset.annotate(
        _mastered=Coalesce(
            _per_learner(
                reviewed.filter(interval_days__gte=MASTERED_INTERVAL_DAYS),
                Count("pk"),
                IntegerField(),
            ),
            0,
        ),
        _due=Coalesce(
            _per_learner(reviewed.filter(WordProgress.due_q(now)), Count("pk"), IntegerField()), 0
        ),
        # SQLite's MAX() is NULL if any argument is, so compare with a sentinel instead.
        _last_active=NullIf(
            Greatest(
                Coalesce("last_login", never),
                Coalesce(last_review, never),
                Coalesce(last_session, never),
            ),
            never,
        ),
        _average_grade=_per_learner(
            TestResult.objects.all(),
            Avg(Cast("score", FloatField()) * 100.0 / Cast("max_score", FloatField())),
            FloatField(),
        ),
    )


class LastActiveFilter(admin.SimpleListFilter):
    title = "last active"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [
            ("today", "Today"),
            ("7d", "Past 7 days"),
            ("30d", "Past 30 days"),
            ("never", "Never"),
        ]

    def queryset(self, request, queryset):
        now = clock.now()
        since = {
            "today": timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0),
            "7d": now - dt.timedelta(days=7),
            "30d": now - dt.timedelta(days=30),
        }
        if self.value() == "never":
            return queryset.filter(_last_active__isnull=True)
        if self.value() in since:
            return queryset.filter(_last_active__gte=since[self.value()])
        return queryset


class AssignmentInline(admin.TabularInline):
    model = Assignment
    fk_name = "learner"
    fields = ["word_list", "assigned_at"]
    readonly_fields = ["assigned_at"]
    autocomplete_fields = ["word_list"]
    extra = 1
    verbose_name = "assigned word list"
    verbose_name_plural = "assigned word lists"


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "display_name",
        "cefr_level",
        "assigned_lists",
        "words_mastered",
        "words_due",
        "last_active",
        "average_grade",
        "daily_voice_minutes",
        "is_active",
    ]
    list_editable = ["daily_voice_minutes"]
    list_filter = [
        "cefr_level",
        "word_lists",
        LastActiveFilter,
        "is_staff",
        "is_active",
        "target_language",
    ]
    search_fields = ["email", "display_name", "first_name", "last_name"]
    actions = ["send_invitation", "deactivate", "export_grades", "export_progress"]
    inlines = [AssignmentInline]
    readonly_fields = [
        "words_mastered",
        "words_due",
        "last_active",
        "average_grade",
        "progress_links",
        "last_login",
        "date_joined",
    ]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (
            "Learner profile",
            {
                "fields": [
                    "display_name",
                    "native_language",
                    "target_language",
                    "cefr_level",
                    "daily_voice_minutes",
                    "desired_retention",
                ]
            },
        ),
        (
            "Progress",
            {
                "fields": [
                    "words_mastered",
                    "words_due",
                    "last_active",
                    "average_grade",
                    "progress_links",
                ]
            },
        ),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_form = LearnerCreationForm
    add_form_template = "admin/accounts/user/add_form.html"
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": [
                    "email",
                    "display_name",
                    "native_language",
                    "target_language",
                    "cefr_level",
                    "daily_voice_minutes",
                    "word_lists",
                ],
            },
        ),
        (
            "Signing in",
            {"classes": ["wide"], "fields": ["send_invitation", "password1", "password2"]},
        ),
    ]

    def get_queryset(self, request):
        queryset = super().get_queryset(request).prefetch_related("word_lists")
        return learners_with_progress(queryset, now=clock.now())

    def get_inlines(self, request, obj):
        return self.inlines if obj is not None else []

    # --- columns --------------------------------------------------------

    @admin.display(description="word lists")
    def assigned_lists(self, obj: User) -> str:
        return ", ".join(word_list.name for word_list in obj.word_lists.all()) or "—"

    @admin.display(description="mastered", ordering="_mastered")
    def words_mastered(self, obj: User) -> int:
        return obj._mastered

    @admin.display(description="due", ordering="_due")
    def words_due(self, obj: User) -> int:
        return obj._due

    # Coalesced so learners never active / never graded sort the same on SQLite and PostgreSQL.
    @admin.display(
        description="last active",
        ordering=Coalesce("_last_active", Value(NEVER, output_field=DateTimeField())),
    )
    def last_active(self, obj: User) -> str:
        # Formatted here: read-only fields on the change page neither localize values
        # nor use empty_value.
        if obj._last_active is None:
            return "never"
        return formats.localize(timezone.localtime(obj._last_active))

    @admin.display(
        description="average grade",
        ordering=Coalesce("_average_grade", Value(-1.0, output_field=FloatField())),
    )
    def average_grade(self, obj: User) -> str:
        return f"{obj._average_grade:.0f}%" if obj._average_grade is not None else "—"

    @admin.display(description="details")
    def progress_links(self, obj: User) -> str:
        if obj.pk is None:
            return "—"
        links = [
            ("word progress", "admin:tutor_wordprogress_changelist"),
            ("test results", "admin:tutor_testresult_changelist"),
            ("voice sessions", "admin:tutor_tutorsession_changelist"),
        ]
        return format_html(
            " · ".join(['<a href="{}?learner__id__exact={}">{}</a>'] * len(links)),
            *[part for label, name in links for part in (reverse(name), obj.pk, label)],
        )

    # --- saving ---------------------------------------------------------

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if not change and form.cleaned_data.get("send_invitation"):
            learner = form.instance
            transaction.on_commit(lambda: learner_invite(request=request, learner=learner))
            self.message_user(request, f"An invitation is on its way to {learner.email}.")

    # --- actions --------------------------------------------------------

    @admin.action(description="Send an invitation email", permissions=["change"])
    def send_invitation(self, request, queryset) -> None:
        learners = list(User.objects.filter(pk__in=queryset.values("pk"), is_active=True))
        for learner in learners:
            learner_invite(request=request, learner=learner)
        skipped = queryset.count() - len(learners)
        message = f"Sent {len(learners)} invitation{'s' if len(learners) != 1 else ''}."
        if skipped:
            message += f" Skipped {skipped} deactivated user{'s' if skipped != 1 else ''}."
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description="Deactivate selected learners", permissions=["change"])
    def deactivate(self, request, queryset) -> None:
        targets = User.objects.filter(pk__in=queryset.values("pk"), is_active=True).exclude(
            pk=request.user.pk
        )
        count = targets.update(is_active=False)
        self.message_user(
            request,
            f"Deactivated {count} learner{'s' if count != 1 else ''}; they can no longer sign in.",
            messages.SUCCESS,
        )
        if queryset.filter(pk=request.user.pk).exists():
            self.message_user(request, "You can’t deactivate yourself.", messages.WARNING)

    # An export shows the exported rows: it needs the permission to view them, not just users.
    def has_export_grades_permission(self, request) -> bool:
        return request.user.has_perm("tutor.view_testresult")

    def has_export_progress_permission(self, request) -> bool:
        return request.user.has_perm("tutor.view_wordprogress")

    @admin.action(description="Export grades as CSV", permissions=["export_grades"])
    def export_grades(self, request, queryset):
        results = TestResult.objects.filter(learner__in=queryset.values("pk"))
        return csv_response(grade_rows(results), filename=export_filename("grades"))

    @admin.action(description="Export progress as CSV", permissions=["export_progress"])
    def export_progress(self, request, queryset):
        progress = WordProgress.objects.filter(learner__in=queryset.values("pk"))
        return csv_response(progress_rows(progress), filename=export_filename("progress"))

"""Learners in the admin: progress at a glance, assignments, invitations and exports."""

from __future__ import annotations

import datetime as dt

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import transaction
from django.db.models import DateTimeField, FloatField, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import format_html, format_html_join

from accounts.models import User
from common import clock
from staff.exports import csv_response, export_filename, grade_rows, progress_rows
from staff.admin.classrooms import ClassroomChoiceForm, action_form_response
from staff.forms import LearnerCreationForm
from staff.invitations import learner_invite
from staff.overview import attention_reasons, grade_trend, learner_word_states, learners_with_standing
from staff.progress import NEVER
from staff.scope import TeacherScoped
from tutor.classrooms import classroom_learners_add, classrooms_taught_by
from tutor.models import Assignment, TestResult, WordProgress
from tutor.recap import practised_counts


class RoleFilter(admin.SimpleListFilter):
    """Learners unless asked otherwise: staff accounts are one click away, not mixed in."""

    title = "role"
    parameter_name = "role"

    def lookups(self, request, model_admin):
        return [("staff", "Staff"), ("everyone", "Everyone")]

    def choices(self, changelist):
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "Learners",
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(self, request, queryset):
        if self.value() == "staff":
            return queryset.filter(is_staff=True)
        if self.value() == "everyone":
            return queryset
        return queryset.filter(is_staff=False)


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
    fields = ["word_list", "due_on", "assigned_at"]
    readonly_fields = ["assigned_at"]
    autocomplete_fields = ["word_list"]
    extra = 1
    verbose_name = "assigned word list"
    verbose_name_plural = "assigned word lists"


@admin.register(User)
class UserAdmin(TeacherScoped, BaseUserAdmin):
    learner_path = "pk"
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
        RoleFilter,
        LastActiveFilter,
        "is_active",
        "target_language",
    ]
    search_fields = ["email", "display_name", "first_name", "last_name"]
    actions = [
        "add_to_class",
        "send_invitation",
        "deactivate",
        "export_grades",
        "export_progress",
    ]
    inlines = [AssignmentInline]
    readonly_fields = [
        "needs_attention",
        "word_states",
        "recent_grades",
        "recent_sessions",
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
            "Progress",
            {
                "fields": [
                    "needs_attention",
                    "word_states",
                    "last_active",
                    "average_grade",
                    "recent_grades",
                    "recent_sessions",
                    "progress_links",
                ]
            },
        ),
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
                    "is_active",
                ]
            },
        ),
        ("Account internals", {"fields": ["is_staff", "is_superuser", "groups", "user_permissions"]}),
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
                    "classroom",
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
        return learners_with_standing(queryset, now=clock.now())

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if obj is not None:
            return form
        classrooms = classrooms_taught_by(request.user)
        # A teacher's new learner must join one of their classes, or they could not see them.
        required = not request.user.is_superuser

        class AddForm(form):
            def __init__(self, *args, **kwargs):
                super().__init__(*args, **kwargs)
                self.fields["classroom"].queryset = classrooms
                self.fields["classroom"].required = required

        return AddForm

    def get_fieldsets(self, request, obj=None):
        """Progress first; the password hash and permissions only for superusers (a teacher's
        form has no such fields, so it cannot change them either)."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or request.user.is_superuser:
            return fieldsets
        internal = {"password", "is_staff", "is_superuser", "groups", "user_permissions"}
        kept = []
        for name, options in fieldsets:
            fields = [field for field in options["fields"] if field not in internal]
            if fields:
                kept.append((name, {**options, "fields": fields}))
        return kept

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

    @admin.display(description="needs attention")
    def needs_attention(self, obj: User) -> str:
        if obj.pk is None:
            return "—"
        reasons = attention_reasons(obj, now=clock.now())
        if not reasons:
            return "No: active, on schedule, grades steady."
        return format_html('<strong class="flag">⚑ {}</strong>', "; ".join(reasons))

    @admin.display(description="words")
    def word_states(self, obj: User) -> str:
        if obj.pk is None:
            return "—"
        states = learner_word_states(obj, now=clock.now())
        return format_html(
            "{} in assigned lists: <strong>{}</strong> mastered · <strong>{}</strong> learning · "
            "<strong>{}</strong> new · <strong>{}</strong> due now (<strong>{}</strong> overdue)",
            states["assigned"], states["mastered"], states["learning"], states["new"],
            obj._due, obj._overdue,
        )

    @admin.display(description="recent grades")
    def recent_grades(self, obj: User) -> str:
        results = list(obj.test_results.select_related("word_list")[:5]) if obj.pk else []
        if not results:
            return "No tests yet."
        trend = grade_trend(obj)
        items = format_html_join(
            "", "<li>{} · {}% ({}/{}) · {}</li>",
            (
                (formats.date_format(timezone.localtime(r.taken_at), "SHORT_DATE_FORMAT"),
                 r.percent, r.score, r.max_score, r.get_source_display())
                for r in results
            ),
        )
        trend_text = "" if trend is None else f"Last fortnight against the one before: {trend:+.0f} points."
        return format_html('<ul class="recent">{}</ul>{}', items, trend_text)

    @admin.display(description="voice sessions")
    def recent_sessions(self, obj: User) -> str:
        sessions = list(obj.tutor_sessions.all()[:5]) if obj.pk else []
        if not sessions:
            return "No voice sessions yet."
        practised = practised_counts(sessions=sessions)
        rows = (
            (
                reverse("admin:tutor_tutorsession_transcript", args=[s.pk]),
                formats.localize(timezone.localtime(s.minted_at)),
                s.get_status_display(),
                f"{s.duration_minutes} min" if s.duration_minutes is not None else "no minutes",
                practised.get(s.pk, 0),
                s.end_reason or "—",
            )
            for s in sessions
        )
        items = format_html_join(
            "", '<li><a href="{}">{}</a> · {} · {} · {} words practised · ended: {}</li>', rows
        )
        return format_html('<ul class="recent">{}</ul>', items)

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
        if not change and form.cleaned_data.get("classroom"):
            classroom_learners_add(classroom=form.cleaned_data["classroom"], learners=[form.instance])
        if not change and form.cleaned_data.get("send_invitation"):
            learner = form.instance
            transaction.on_commit(lambda: learner_invite(request=request, learner=learner))
            self.message_user(request, f"An invitation is on its way to {learner.email}.")

    # --- actions --------------------------------------------------------

    def has_add_to_class_permission(self, request) -> bool:
        return request.user.has_perm("tutor.change_classroom")

    @admin.action(description="Add selected learners to a class", permissions=["add_to_class"])
    def add_to_class(self, request, queryset):
        form = ClassroomChoiceForm(
            request.POST if "apply" in request.POST else None, user=request.user
        )
        if form.is_valid():
            classroom = form.cleaned_data["classroom"]
            learners = list(queryset.filter(is_staff=False))
            joined = classroom_learners_add(classroom=classroom, learners=learners)
            message = f"Added {joined} learner{'s' if joined != 1 else ''} to {classroom.name}."
            if joined < len(learners):
                message += f" {len(learners) - joined} already in it."
            self.message_user(request, message, messages.SUCCESS)
            return None
        return action_form_response(
            self, request, queryset, form=form, action="add_to_class",
            title="Add learners to a class", button="Add to the class",
        )

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

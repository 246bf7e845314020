"""Learners' word progress, grades, reviews and oral quizzes in the admin, with CSV exports."""


from __future__ import annotations

from django.contrib import admin
from django.db.models import Q

from common import clock
from staff.scope import TeacherScoped
from staff.exports import csv_response, export_filename, grade_rows, progress_rows
from tutor.models import (
    OralQuiz,
    Review,
    TestResult,
    WordProgress,
)
from tutor.srs import MASTERED_INTERVAL_DAYS

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
            "due": WordProgress.due_q(clock.now()),
            "mastered": reviewed & mastered,
        }
        return queryset.filter(filters[self.value()]) if self.value() in filters else queryset


@admin.register(WordProgress)
class WordProgressAdmin(TeacherScoped, admin.ModelAdmin):
    list_display = [
        "learner",
        "word",
        "word_list",
        "state",
        "due_at",
        "last_result",
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
        return "due" if obj.is_due() else obj.state

    @admin.action(description="Export progress as CSV")
    def export_progress(self, request, queryset):
        return csv_response(progress_rows(queryset), filename=export_filename("progress"))


@admin.register(TestResult)
class TestResultAdmin(TeacherScoped, admin.ModelAdmin):
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


@admin.register(Review)
class ReviewAdmin(TeacherScoped, admin.ModelAdmin):
    list_display = ["learner", "word", "outcome", "rating", "scheduled", "source", "session", "reviewed_at"]
    list_filter = ["source", "outcome", "rating", "scheduled", "reviewed_at"]
    search_fields = ["learner__email", "word__term"]
    list_select_related = ["learner", "word"]
    raw_id_fields = ["learner", "word", "session"]
    date_hierarchy = "reviewed_at"


@admin.register(OralQuiz)
class OralQuizAdmin(TeacherScoped, admin.ModelAdmin):
    learner_path = "session__learner"
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

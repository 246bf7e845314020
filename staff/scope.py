"""Row-level scope in the admin: a teacher sees only the learners of the classes they teach.

A superuser sees every row. Any other member of staff is a teacher: each admin that shows a
learner's rows mixes in ``TeacherScoped`` and names the path from its model to the learner
(``learner_path``); its change list, change pages, actions and exports then hold only their
learners' rows, and its learner and session pickers offer (and accept) only those.
"""

from __future__ import annotations

from django.db.models import QuerySet

from tutor.classrooms import learners_taught_by
from tutor.models import TutorSession


def scope_rows(queryset: QuerySet, user, learner_path: str) -> QuerySet:
    """``queryset`` cut to the rows of learners ``user`` teaches (all rows for a superuser)."""
    learners = learners_taught_by(user)
    if learners is None:
        return queryset
    return queryset.filter(**{f"{learner_path}__in": learners.values("pk")})


def scoped_learners(queryset: QuerySet, user) -> QuerySet:
    return scope_rows(queryset, user, "pk")


def scoped_sessions(user) -> QuerySet[TutorSession]:
    return scope_rows(TutorSession.objects.all(), user, "learner")


class TeacherScoped:
    """Mix into a ModelAdmin or inline before the admin class: rows of the user's learners."""

    learner_path = "learner"

    def get_queryset(self, request):
        return scope_rows(super().get_queryset(request), request.user, self.learner_path)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if field is not None and db_field.name == "learner":
            field.queryset = scoped_learners(field.queryset, request.user)
        elif field is not None and db_field.name == "session":
            field.queryset = field.queryset.filter(pk__in=scoped_sessions(request.user).values("pk"))
        return field

"""Classes: who teaches whom, and the word lists a class hands to each of its learners.

A learner in a class has an Assignment for each of the class's lists, carrying the list's due
date; ``classroom_sync`` makes that true after any change of learners or lists, and is safe to
run again. ``learners_taught_by`` is the row-level scope of a teacher: the learners of the
classes they teach (``None`` for a superuser, who sees everyone).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q, QuerySet

from accounts.models import User
from tutor.material_cache import word_lists_changed
from tutor.models import Assignment, Classroom, ClassroomList, WordList


def learners_taught_by(user: User) -> QuerySet[User] | None:
    """The learners ``user`` may see: everyone for a superuser (``None``), else the learners
    of the classes they teach (nobody if they teach none)."""
    if user.is_superuser:
        return None
    return User.objects.filter(classrooms__teachers=user).distinct()


def classrooms_taught_by(user: User) -> QuerySet[Classroom]:
    if user.is_superuser:
        return Classroom.objects.all()
    return Classroom.objects.filter(teachers=user)


@transaction.atomic
def classroom_sync(*, classroom: Classroom) -> int:
    """Give every learner of ``classroom`` each of its lists; returns the assignments made.

    An assignment that already exists keeps its date unless the class's due date is earlier
    (or it had none): a learner is held to the soonest date any of their classes set.
    """
    learner_ids = list(classroom.learners.values_list("pk", flat=True))
    made = 0
    for class_list in classroom.lists.all():
        existing = set(
            Assignment.objects.filter(
                word_list_id=class_list.word_list_id, learner_id__in=learner_ids
            ).values_list("learner_id", flat=True)
        )
        new = [
            Assignment(learner_id=pk, word_list_id=class_list.word_list_id, due_on=class_list.due_on)
            for pk in learner_ids
            if pk not in existing
        ]
        Assignment.objects.bulk_create(new, ignore_conflicts=True)
        made += len(new)
        if class_list.due_on is not None:
            Assignment.objects.filter(
                Q(due_on__isnull=True) | Q(due_on__gt=class_list.due_on),
                word_list_id=class_list.word_list_id,
                learner_id__in=learner_ids,
            ).update(due_on=class_list.due_on)
    if made:
        # bulk_create sends no signals: the learners' cached plans must see their new lists.
        word_lists_changed()
    return made


@transaction.atomic
def classroom_learners_add(*, classroom: Classroom, learners: Iterable[User]) -> int:
    """Put ``learners`` in ``classroom`` (and give them its lists); returns how many joined."""
    already = set(classroom.learners.values_list("pk", flat=True))
    joining = [learner for learner in learners if learner.pk not in already]
    classroom.learners.add(*joining)
    classroom_sync(classroom=classroom)
    return len(joining)


@transaction.atomic
def classroom_list_assign(
    *, classroom: Classroom, word_list: WordList, due_on: dt.date | None
) -> ClassroomList:
    """Give ``word_list`` to the whole class, due on ``due_on`` (a new date replaces the old)."""
    class_list, _ = ClassroomList.objects.update_or_create(
        classroom=classroom, word_list=word_list, defaults={"due_on": due_on}
    )
    classroom_sync(classroom=classroom)
    return class_list

"""The tutor's material for a learner (``tutor.progress.tutor_material``), kept in Django's cache
(Redis when ``REDIS_URL`` is set) until it may have changed.

Every key mint needs the material, and building it takes five queries that grow with the
vocabulary. An entry is filed under two versions:

- the learner's, changed when their progress, their grades or their assignments change;
- the word lists', changed when any word or list changes (rare next to mints).

A version is a fresh random token, set at the write and again after the writing transaction
commits, so a reader that read the database before the commit never files what it read under
the version readers use after it. The writers are covered by signals (``tutor.apps``); a writer that bypasses them
(``bulk_create``, ``bulk_update``, ``QuerySet.update``) calls ``learner_material_changed`` or
``word_lists_changed`` itself, as ``tutor.vocabulary_import`` does.

Time changes the material too (a word falls due with no write), so an entry holds the moments
it is right for: from when it was built until the learner's next word falls due, and never
longer than ``MAX_AGE_SECONDS`` (which also bounds what a write missed while Redis was down
can leave stale).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from typing import TypeVar

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Min

from tutor.models import WordProgress
from tutor.progress import TutorMaterial, tutor_material

MAX_AGE_SECONDS = 300
FORMAT = 2  # change when an entry's shape changes (TutorMaterial's or a derived value's)
_LISTS_KEY = "tutor-material-version:lists"
T = TypeVar("T")


def _learner_key(learner_id: int) -> str:
    return f"tutor-material-version:learner:{learner_id}"


def _token() -> str:
    return secrets.token_hex(8)


def _bump(key: str) -> None:
    """A new version for ``key`` now, and again once the writing transaction commits.

    Now: so this process (and this very transaction) never reads an entry from before the
    write. After the commit: another process may have read the old rows between the first
    bump and the commit and filed them under the first new version.
    """

    def bump() -> None:
        cache.set(key, _token(), timeout=None)

    bump()
    if not connection.in_atomic_block:
        return
    bump.material_version_key = key
    # One bump at commit per key, however many rows the transaction writes (a list deleted
    # with its 10,000 words): the callbacks already waiting are Django's own list of them.
    waiting = getattr(connection, "run_on_commit", None) or []
    if not any(getattr(func, "material_version_key", None) == key for _, func, *_ in waiting):
        transaction.on_commit(bump)


def learner_material_changed(learner_id: int) -> None:
    """The learner's progress, grades or assignments changed (once this transaction commits)."""
    _bump(_learner_key(learner_id))


def word_lists_changed() -> None:
    """A word or a word list changed (once this transaction commits): every learner's material."""
    _bump(_LISTS_KEY)


def _next_due(*, learner, now: dt.datetime) -> dt.datetime | None:
    """When the learner's next assigned, practised word falls due after ``now``."""
    return (
        WordProgress.objects.filter(
            learner=learner,
            word__word_list__assignments__learner=learner,
            last_reviewed_at__isnull=False,
            due_at__gt=now,
        ).aggregate(next_due=Min("due_at"))["next_due"]
    )


def _entry_key(*, learner, name: str, fingerprint: str, limit: int, revision_limit: int) -> str:
    # date_joined: a database that reuses a deleted learner's id never hands over their entry.
    joined = learner.date_joined.timestamp() if learner.date_joined else 0
    return f"tutor-material:{FORMAT}:{learner.pk}:{joined}:{name}:{fingerprint}:{limit}:{revision_limit}"


def material_derived_cached(
    *,
    learner,
    now: dt.datetime,
    limit: int,
    revision_limit: int,
    derive: Callable[[TutorMaterial], T],
    name: str,
    fingerprint: str = "",
) -> T:
    """``derive(tutor_material(...))`` for ``learner`` at ``now``, from the cache while it is
    still right: what a key mint needs (the tutor's plan) costs one cache read and no query.

    ``derive`` must be pure and depend only on the material and on what ``fingerprint`` names
    (the learner's fields and the settings it reads), as ``name`` must name what it makes.
    The entry and the two versions are read in one round trip; an entry counts only when it was
    filed under the versions read with it, and only in the moments it is right for.
    """
    learner_key = _learner_key(learner.pk)
    entry_key = _entry_key(
        learner=learner, name=name, fingerprint=fingerprint, limit=limit, revision_limit=revision_limit
    )
    found = cache.get_many([learner_key, _LISTS_KEY, entry_key])
    missing = [key for key in (learner_key, _LISTS_KEY) if key not in found]
    if missing:
        for key in missing:
            cache.add(key, _token(), timeout=None)
        found.update(cache.get_many(missing))
    versions = (found.get(learner_key, ""), found.get(_LISTS_KEY, ""))
    if not all(versions):  # the cache cannot keep anything right now
        return derive(tutor_material(learner=learner, now=now, limit=limit, revision_limit=revision_limit))
    entry = found.get(entry_key)
    if entry is not None:
        filed_under, built_at, valid_until, value = entry
        if filed_under == versions and built_at <= now < valid_until:
            return value
    value = derive(tutor_material(learner=learner, now=now, limit=limit, revision_limit=revision_limit))
    valid_until = now + dt.timedelta(seconds=MAX_AGE_SECONDS)
    next_due = _next_due(learner=learner, now=now)
    if next_due is not None:
        valid_until = min(valid_until, next_due)
    timeout = max(1, int((valid_until - now).total_seconds()) + 1)
    cache.set(entry_key, (versions, now, valid_until, value), timeout=timeout)
    return value


def tutor_material_cached(
    *, learner, now: dt.datetime, limit: int, revision_limit: int
) -> TutorMaterial:
    """``tutor_material`` for ``learner`` at ``now``, from the cache when it is still right."""
    return material_derived_cached(
        learner=learner, now=now, limit=limit, revision_limit=revision_limit,
        derive=lambda material: material, name="material",
    )


# --- What changes the material (connected in tutor.apps) ------------------------------------


def _learner_row_changed(sender, instance, **kwargs) -> None:
    learner_material_changed(instance.learner_id)


def _lists_changed(sender, **kwargs) -> None:
    word_lists_changed()


def signals_connect() -> None:
    from django.db.models.signals import m2m_changed, post_delete, post_save

    from tutor.models import Assignment, TestResult, Word, WordList

    # Progress rows go only with their word (a lists change) or their learner: a delete signal
    # on them would only cost every bulk delete of them its fast path.
    post_save.connect(_learner_row_changed, sender=WordProgress, dispatch_uid="material-progress-saved")
    for model in (TestResult, Assignment):
        for signal in (post_save, post_delete):
            uid = f"material-{model.__name__}-{id(signal)}"
            signal.connect(_learner_row_changed, sender=model, dispatch_uid=uid)
    for model in (Word, WordList):
        for signal in (post_save, post_delete):
            signal.connect(_lists_changed, sender=model, dispatch_uid=f"material-{model.__name__}-{id(signal)}")
    # word_list.learners.add(...) writes Assignment rows without their save signals.
    m2m_changed.connect(_lists_changed, sender=WordList.learners.through, dispatch_uid="material-m2m")

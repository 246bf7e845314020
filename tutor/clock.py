"""The one place the tutor's limits read the time, so tests can set the clock."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    """The current time (aware, UTC)."""
    return timezone.now()

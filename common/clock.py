"""The one place the project's services read the time, so tests can set the clock.

Code that needs "now" calls ``clock.now()`` (never ``timezone.now()`` directly); a test
patches ``common.clock.now`` and every limit, hang-up, schedule and recap follows.
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone


def now() -> dt.datetime:
    """The current time (aware, UTC)."""
    return timezone.now()

"""Fixtures of the voice tests."""

import pytest

from tutor.models import TutorSession


@pytest.fixture
def session(alice):
    """A session of alice's that has not reported a call."""
    return TutorSession.objects.create(learner=alice, model="gpt-realtime", voice="marin", instructions="")

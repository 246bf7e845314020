"""Fixtures for the staff pages."""

from __future__ import annotations

import pytest

from tests.conftest import make_teacher
from tutor.models import Classroom


@pytest.fixture
def teacher_client(client, alice):
    """A teacher (staff, not superuser) of "Class A", whose only learner is alice, signed in."""
    teacher = make_teacher("teacher@example.com")
    classroom = Classroom.objects.create(name="Class A")
    classroom.teachers.add(teacher)
    classroom.learners.add(alice)
    client.force_login(teacher)
    return client

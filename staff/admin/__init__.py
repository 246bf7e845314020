"""The staff tool: every model in the Django admin, one module per area."""

from staff.admin import classrooms, learners, progress, sessions, vocabulary  # noqa: F401  (they register)

"""The staff tool: every model in the Django admin, one module per area."""

from staff.admin import classrooms, learners, progress, sessions, vocabulary  # noqa: F401  (they register)

from django.contrib import admin as _admin

# The model list sits on the index page and in the breadcrumbs; without the navigation
# sidebar a list and its filters have the window's width at 1280 px.
_admin.site.enable_nav_sidebar = False

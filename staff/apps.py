from django.apps import AppConfig


class StaffConfig(AppConfig):
    """The staff tool, in the Django admin: no models of its own."""

    name = "staff"

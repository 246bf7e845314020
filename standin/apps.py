from django.apps import AppConfig


class StandinConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "standin"
    verbose_name = "Realtime stand-in"

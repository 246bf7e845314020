from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project's wiring as an app, only so its system checks are registered."""

    name = "config"
    label = "parlance_config"
    verbose_name = "Parlance settings"

    def ready(self) -> None:
        from config import checks  # noqa: F401  (registers them)

from django.apps import AppConfig


class TutorConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "tutor"

    def ready(self) -> None:
        from tutor.material_cache import signals_connect

        signals_connect()

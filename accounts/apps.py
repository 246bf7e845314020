from django.apps import AppConfig


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Learners"

    def ready(self) -> None:
        from accounts import adapter  # noqa: F401  (connects its signal receiver)

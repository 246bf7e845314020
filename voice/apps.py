from django.apps import AppConfig
from django.db import transaction
from django.db.models.signals import post_save


class VoiceConfig(AppConfig):
    """Live voice sessions: no models of its own (their tables belong to ``tutor``)."""

    name = "voice"

    def ready(self) -> None:
        from accounts.models import User

        post_save.connect(_learner_saved, sender=User, dispatch_uid="voice-learner-deactivated")


def _learner_saved(sender, instance, created, update_fields=None, **kwargs) -> None:
    """A learner deactivated mid-call stops at once: their sessions end, their calls hang up."""
    if created or instance.is_active:
        return
    from voice.calls import learner_sessions_close

    learner_id = instance.pk
    transaction.on_commit(lambda: learner_sessions_close(learner_id=learner_id))

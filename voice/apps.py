from django.apps import AppConfig


class VoiceConfig(AppConfig):
    """Live voice sessions: no models of its own (their tables belong to ``tutor``)."""

    name = "voice"

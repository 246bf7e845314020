"""Client secrets minted by the stand-in, kept in the database so every ASGI process accepts them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class ClientSecret(models.Model):
    """An ephemeral ``ek_…`` key and the session it opens."""

    value = models.CharField(max_length=80, unique=True)
    session = models.JSONField()
    expires_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.value[:10]}… until {self.expires_at:%Y-%m-%d %H:%M:%S}"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

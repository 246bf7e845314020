from __future__ import annotations

from django.contrib.auth.models import AbstractUser, UserManager
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

LANGUAGES = [
    ("en", "English"),
    ("es", "Spanish"),
    ("fr", "French"),
    ("de", "German"),
    ("it", "Italian"),
    ("pt", "Portuguese"),
    ("nl", "Dutch"),
    ("sv", "Swedish"),
    ("pl", "Polish"),
    ("ru", "Russian"),
    ("tr", "Turkish"),
    ("ar", "Arabic"),
    ("hi", "Hindi"),
    ("ja", "Japanese"),
    ("ko", "Korean"),
    ("zh", "Chinese"),
]
LANGUAGE_NAMES = dict(LANGUAGES)


class CefrLevel(models.TextChoices):
    A1 = "A1", "A1 · Beginner"
    A2 = "A2", "A2 · Elementary"
    B1 = "B1", "B1 · Intermediate"
    B2 = "B2", "B2 · Upper intermediate"
    C1 = "C1", "C1 · Advanced"
    C2 = "C2", "C2 · Proficient"


class EmailUserManager(UserManager):
    """Users log in with their email address; there is no username."""

    use_in_migrations = True

    def _create_user(self, email, password, **extra_fields):
        if not email:
            raise ValueError("An email address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra_fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", False)
        extra_fields.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra_fields)

    def create_superuser(self, email=None, password=None, **extra_fields):
        extra_fields.setdefault("is_staff", True)
        extra_fields.setdefault("is_superuser", True)
        if not extra_fields["is_staff"] or not extra_fields["is_superuser"]:
            raise ValueError("A superuser needs is_staff and is_superuser.")
        return self._create_user(email, password, **extra_fields)


class User(AbstractUser):
    """A learner or a member of staff. The learner profile lives on the user."""

    username = None
    email = models.EmailField("email address", unique=True)
    display_name = models.CharField(max_length=80, blank=True)
    native_language = models.CharField(max_length=8, choices=LANGUAGES, default="en")
    target_language = models.CharField(max_length=8, choices=LANGUAGES, default="es")
    cefr_level = models.CharField(
        "CEFR level", max_length=2, choices=CefrLevel.choices, default=CefrLevel.A1
    )
    daily_voice_minutes = models.PositiveSmallIntegerField(
        default=20,
        validators=[MinValueValidator(0), MaxValueValidator(600)],
        help_text="Minutes of voice practice allowed per day.",
    )
    daily_goal_words = models.PositiveSmallIntegerField(
        "daily goal",
        default=10,
        validators=[MinValueValidator(1), MaxValueValidator(200)],
        help_text="Words the learner means to practise each day (1 to 200).",
    )
    needs_onboarding = models.BooleanField(
        default=False,
        help_text=(
            "Set for learners who signed up themselves: the dashboard sends them to the first-run "
            "page (languages, level, daily goal) until they finish it."
        ),
    )
    desired_retention = models.FloatField(
        null=True,
        blank=True,
        validators=[MinValueValidator(0.7), MaxValueValidator(0.99)],
        help_text=(
            "The share of words this learner should still recall when each comes due "
            "(0.70 to 0.99; higher means more frequent reviews). Empty: the site's default."
        ),
    )

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    objects = EmailUserManager()

    class Meta:
        ordering = ["email"]
        verbose_name = "learner"
        verbose_name_plural = "learners"

    def __str__(self) -> str:
        return self.email

    @property
    def name(self) -> str:
        return self.display_name or self.email.split("@", 1)[0]

    @property
    def target_language_name(self) -> str:
        return LANGUAGE_NAMES.get(self.target_language, self.target_language)

    @property
    def native_language_name(self) -> str:
        return LANGUAGE_NAMES.get(self.native_language, self.native_language)

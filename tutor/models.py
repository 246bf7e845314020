"""Vocabulary, spaced-repetition progress, grades and tutor conversations."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone

from accounts.models import LANGUAGES
from common import clock
from tutor import srs
from tutor.srs import MASTERED_INTERVAL_DAYS


class WordList(models.Model):
    """A list of words. Staff lists (and the shared starter lists) have no owner; a list a
    learner imported for themselves is theirs (``owner``) and only ever assigned to them.
    Names are unique among staff lists, and among each learner's own lists."""

    name = models.CharField(max_length=120)
    language = models.CharField(max_length=8, choices=LANGUAGES)
    description = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="own_word_lists",
        help_text="The learner who imported this list for themselves; empty for staff lists.",
    )
    learners = models.ManyToManyField(
        settings.AUTH_USER_MODEL, through="Assignment", related_name="word_lists", blank=True
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=Q(owner__isnull=True), name="wordlist_unique_staff_name"
            ),
            models.UniqueConstraint(
                fields=["owner", "name"],
                condition=Q(owner__isnull=False),
                name="wordlist_unique_own_name",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class Word(models.Model):
    class PartOfSpeech(models.TextChoices):
        NOUN = "noun", "noun"
        VERB = "verb", "verb"
        ADJECTIVE = "adjective", "adjective"
        ADVERB = "adverb", "adverb"
        PHRASE = "phrase", "phrase"
        OTHER = "other", "other"

    word_list = models.ForeignKey(WordList, on_delete=models.CASCADE, related_name="words")
    term = models.CharField(max_length=120)
    meaning = models.CharField(max_length=255, help_text="Meaning or translation.")
    example = models.CharField("example sentence", max_length=500, blank=True)
    part_of_speech = models.CharField(
        max_length=12, choices=PartOfSpeech.choices, default=PartOfSpeech.OTHER, blank=True
    )
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["word_list", "position", "term"]
        constraints = [
            models.UniqueConstraint(fields=["word_list", "term"], name="word_unique_term_per_list"),
        ]

    def __str__(self) -> str:
        return f"{self.term} ({self.meaning})"


class Assignment(models.Model):
    """A word list given to a learner."""

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="assignments"
    )
    word_list = models.ForeignKey(WordList, on_delete=models.CASCADE, related_name="assignments")
    assigned_at = models.DateTimeField(default=timezone.now)
    due_on = models.DateField(
        "due date", null=True, blank=True, help_text="When the list should be learnt by (optional)."
    )

    class Meta:
        ordering = ["-assigned_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["learner", "word_list"], name="assignment_unique_learner_list"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.word_list} → {self.learner}"

    def clean(self) -> None:
        """A learner's own list is theirs only: it is never given to anyone else."""
        owner_id = self.word_list.owner_id if self.word_list_id else None
        if owner_id and self.learner_id and owner_id != self.learner_id:
            raise ValidationError({"word_list": "This list is a learner's own; it cannot be given to anyone else."})


class Classroom(models.Model):
    """A class: its teachers (staff) and learners, and the word lists it is given.

    A learner in the class gets each of its lists as an Assignment (``tutor/classrooms.py``).
    """

    name = models.CharField(max_length=120, unique=True)
    teachers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="classes_taught", blank=True,
        limit_choices_to={"is_staff": True},
    )
    learners = models.ManyToManyField(
        settings.AUTH_USER_MODEL, related_name="classrooms", blank=True
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = "class"
        verbose_name_plural = "classes"

    def __str__(self) -> str:
        return self.name


class ClassroomList(models.Model):
    """A word list given to a whole class, with an optional due date."""

    classroom = models.ForeignKey(Classroom, on_delete=models.CASCADE, related_name="lists")
    word_list = models.ForeignKey(WordList, on_delete=models.CASCADE, related_name="classroom_lists")
    due_on = models.DateField("due date", null=True, blank=True)
    assigned_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on", "word_list__name"]
        verbose_name = "assigned word list"
        verbose_name_plural = "assigned word lists"
        constraints = [
            models.UniqueConstraint(
                fields=["classroom", "word_list"], name="classroom_list_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.word_list} → {self.classroom}"


class WordProgress(models.Model):
    """One learner's spaced-repetition state for one word: an FSRS card (tutor/srs.py).

    ``card_state``, ``step``, ``stability``, ``difficulty``, ``due_at`` and
    ``last_reviewed_at`` are the card; ``repetitions`` counts its scheduled reviews and
    ``interval_days`` is the whole days from the last review to the next.
    """

    class CardState(models.IntegerChoices):
        LEARNING = 1, "learning"
        REVIEW = 2, "review"
        RELEARNING = 3, "relearning"

    class Result(models.TextChoices):
        CORRECT = "correct", "correct"
        HESITANT = "hesitant", "hesitant"
        INCORRECT = "incorrect", "incorrect"

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="word_progress"
    )
    word = models.ForeignKey(Word, on_delete=models.CASCADE, related_name="progress")
    repetitions = models.PositiveIntegerField(default=0, help_text="Scheduled reviews so far.")
    interval_days = models.PositiveIntegerField(default=0)
    card_state = models.PositiveSmallIntegerField(
        choices=CardState.choices, default=CardState.LEARNING
    )
    step = models.PositiveSmallIntegerField(
        null=True, blank=True, default=0, help_text="Learning or relearning step; empty in review."
    )
    stability = models.FloatField(null=True, blank=True, help_text="Days until recall drops to 90%.")
    difficulty = models.FloatField(null=True, blank=True, help_text="1 (easy) to 10 (hard).")
    due_at = models.DateTimeField(default=timezone.now)
    last_result = models.CharField(max_length=10, choices=Result.choices, blank=True)
    correct_count = models.PositiveIntegerField(default=0)
    incorrect_count = models.PositiveIntegerField(default=0)
    last_reviewed_at = models.DateTimeField(null=True, blank=True)
    mastered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "word progress"
        ordering = ["due_at"]
        constraints = [
            models.UniqueConstraint(fields=["learner", "word"], name="progress_unique_learner_word"),
        ]
        indexes = [
            models.Index(fields=["learner", "due_at"], name="progress_learner_due"),
            models.Index(fields=["learner", "last_reviewed_at"], name="progress_learner_reviewed"),
        ]

    def __str__(self) -> str:
        return f"{self.learner} · {self.word.term}"

    @property
    def is_new(self) -> bool:
        return self.last_reviewed_at is None

    @property
    def card(self) -> srs.CardState:
        return srs.CardState(
            state=self.card_state,
            step=self.step,
            stability=self.stability,
            difficulty=self.difficulty,
            due_at=self.due_at,
            last_reviewed_at=self.last_reviewed_at,
        )

    def card_set(self, card: srs.CardState) -> None:
        self.card_state = card.state
        self.step = card.step
        self.stability = card.stability
        self.difficulty = card.difficulty
        self.due_at = card.due_at
        self.last_reviewed_at = card.last_reviewed_at
        self.interval_days = card.interval_days

    @property
    def is_mastered(self) -> bool:
        return self.interval_days >= MASTERED_INTERVAL_DAYS

    def is_due(self, now: dt.datetime | None = None) -> bool:
        """Whether the word is due for review: practised before and its review time has come.
        A new word is never due (``due_q`` is the same rule as a query)."""
        return not self.is_new and self.due_at <= (now or clock.now())

    @staticmethod
    def due_q(now: dt.datetime, prefix: str = "") -> Q:
        """``is_due`` as a filter on WordProgress rows (through ``prefix``, e.g. ``"word_progress__"``)."""
        return Q(**{f"{prefix}last_reviewed_at__isnull": False, f"{prefix}due_at__lte": now})

    @property
    def state(self) -> str:
        if self.is_new:
            return "new"
        if self.is_mastered:
            return "mastered"
        return "learning"


class TestResult(models.Model):
    class Source(models.TextChoices):
        WRITTEN = "written", "written test"
        VOICE = "voice", "voice quiz"

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="test_results"
    )
    word_list = models.ForeignKey(
        WordList, on_delete=models.SET_NULL, null=True, blank=True, related_name="test_results"
    )
    taken_at = models.DateTimeField(default=timezone.now)
    score = models.PositiveIntegerField()
    max_score = models.PositiveIntegerField()
    details = models.JSONField(default=list, blank=True, help_text="Per-word results.")
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.WRITTEN)
    test_nonce = models.CharField(
        max_length=64, blank=True, editable=False,
        help_text="The written test's one-off id: a test is graded once.",
    )

    __test__ = False  # not a pytest test class

    class Meta:
        ordering = ["-taken_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(score__lte=models.F("max_score")), name="result_score_within_max"
            ),
            models.CheckConstraint(condition=Q(max_score__gt=0), name="result_max_score_positive"),
            models.UniqueConstraint(
                fields=["learner", "test_nonce"],
                condition=~Q(test_nonce=""),
                name="result_test_graded_once",
            ),
        ]
        indexes = [models.Index(fields=["learner", "-taken_at"], name="result_learner_taken")]

    def __str__(self) -> str:
        return f"{self.learner} · {self.score}/{self.max_score}"

    @property
    def percent(self) -> int:
        return round(100 * self.score / self.max_score) if self.max_score else 0


class TutorSession(models.Model):
    """One voice session with the tutor, from minting its key to its end."""

    class Status(models.TextChoices):
        MINTED = "minted", "key minted"
        LIVE = "live", "live"
        ENDED = "ended", "ended"
        FAILED = "failed", "failed"

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tutor_sessions"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.MINTED)
    model = models.CharField(max_length=64)
    voice = models.CharField(max_length=64)
    instructions = models.TextField(help_text="The instructions the tutor was given.")
    focus_words = models.JSONField(default=list, blank=True)
    call_id = models.CharField("upstream call id", max_length=128, blank=True)
    minted_at = models.DateTimeField(default=timezone.now)
    connected_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=64, blank=True)
    usage = models.JSONField(default=dict, blank=True)
    hangup_at = models.DateTimeField(
        null=True, blank=True, help_text="When the server hangs up the call: the time limit."
    )
    upstream_base_url = models.CharField(
        "Realtime API base URL", max_length=255, blank=True,
        help_text="Where the key was minted, so the server can hang the call up there.",
    )
    sideband_joined_at = models.DateTimeField(
        null=True, blank=True,
        help_text="When the server joined the call over the Realtime API's sideband.",
    )
    call_refused = models.CharField(
        max_length=200, blank=True,
        help_text=(
            "Why the server could not watch the call the page reported (a call id the "
            "sideband could not join): the session is charged to its hang-up time."
        ),
    )
    speaking_seconds = models.FloatField(
        null=True, blank=True,
        help_text="The learner's measured speech (from the sideband's speech events).",
    )
    keys_unreported = models.PositiveIntegerField(
        "keys with no reported call",
        default=0,
        help_text=(
            "Keys minted for this session whose call the page has not reported. While any is "
            "unreported, the session counts until its hang-up time, even after it ends."
        ),
    )

    class Meta:
        ordering = ["-minted_at"]
        indexes = [
            models.Index(fields=["learner", "-minted_at"], name="session_learner_minted"),
            models.Index(fields=["status"], name="session_status"),
            models.Index(fields=["hangup_at"], name="session_hangup_at"),
        ]
        constraints = [
            # A call belongs to one session: no page can claim another learner's call.
            models.UniqueConstraint(
                fields=["call_id"], condition=~Q(call_id=""), name="session_call_id_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"Session {self.pk} · {self.learner}"

    @property
    def duration(self) -> dt.timedelta | None:
        if self.connected_at and self.ended_at:
            return self.ended_at - self.connected_at
        return None

    @property
    def duration_minutes(self) -> float | None:
        duration = self.duration
        return round(duration.total_seconds() / 60, 1) if duration else None


class MintEvent(models.Model):
    """One key minted for a learner (a new session or a resume): the mint rate limit counts these."""

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mint_events"
    )
    session = models.ForeignKey(
        TutorSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="mint_events"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["learner", "created_at"], name="mint_learner_created")]

    def __str__(self) -> str:
        return f"{self.learner} · {self.created_at:%Y-%m-%d %H:%M:%S}"


class ToolCall(models.Model):
    """A function call the tutor made in a session, run once: a resend gets this output."""

    session = models.ForeignKey(TutorSession, on_delete=models.CASCADE, related_name="tool_calls")
    call_id = models.CharField(max_length=128)
    name = models.CharField(max_length=64)
    output = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["session", "call_id"], name="tool_call_once_per_session")
        ]

    def __str__(self) -> str:
        return f"{self.name} · {self.call_id}"


class ConversationItem(models.Model):
    """A completed item of a tutor conversation, saved once per upstream item id."""

    class Role(models.TextChoices):
        USER = "user", "learner"
        ASSISTANT = "assistant", "tutor"
        SYSTEM = "system", "system"
        TOOL = "tool", "tool"

    class Kind(models.TextChoices):
        MESSAGE = "message", "message"
        FUNCTION_CALL = "function_call", "function call"
        FUNCTION_CALL_OUTPUT = "function_call_output", "function call output"

    session = models.ForeignKey(TutorSession, on_delete=models.CASCADE, related_name="items")
    item_id = models.CharField("upstream item id", max_length=128)
    role = models.CharField(max_length=10, choices=Role.choices)
    kind = models.CharField(max_length=24, choices=Kind.choices, default=Kind.MESSAGE)
    text = models.TextField(blank=True)
    raw = models.JSONField(default=dict, blank=True)
    order = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    flagged = models.BooleanField(default=False, help_text="Stopped by the output guardrail.")
    verified = models.BooleanField(
        default=False,
        help_text="Seen by the server on the call's sideband, not only reported by the page.",
    )
    flag_reason = models.CharField(max_length=200, blank=True)
    size = models.PositiveIntegerField(
        default=0, help_text="Bytes of text and raw data, counted against the storage caps."
    )

    class Meta:
        ordering = ["session", "order", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["session", "item_id"], name="item_unique_per_session"),
        ]
        indexes = [models.Index(fields=["session", "order"], name="item_session_order")]

    def __str__(self) -> str:
        return f"{self.get_role_display()}: {self.text[:60]}"


class Review(models.Model):
    """One practice of one word: the history behind streaks, charts and recaps."""

    class Source(models.TextChoices):
        FLASHCARD = "flashcard", "flashcard review"
        TEST = "test", "written test"
        VOICE = "voice", "voice session"

    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reviews"
    )
    word = models.ForeignKey(Word, on_delete=models.CASCADE, related_name="reviews")
    outcome = models.CharField(max_length=10, choices=WordProgress.Result.choices)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.FLASHCARD)
    session = models.ForeignKey(
        TutorSession, on_delete=models.SET_NULL, null=True, blank=True, related_name="reviews"
    )
    reviewed_at = models.DateTimeField(default=timezone.now)
    rating = models.PositiveSmallIntegerField(
        choices=[(1, "again"), (2, "hard"), (3, "good"), (4, "easy")],
        null=True,
        blank=True,
        help_text="The FSRS rating applied (empty on reviews from before ratings).",
    )
    scheduled = models.BooleanField(
        default=True,
        help_text=(
            "Whether this review moved the word's schedule. A word's later evidence in the same "
            "voice session is kept as history only."
        ),
    )
    clear = models.BooleanField(
        null=True,
        blank=True,
        help_text=(
            "For voice evidence: whether the transcription was sure of the word (its confidence "
            "from the logprobs reached TUTOR_CLARITY_THRESHOLD); empty when unknown."
        ),
    )

    class Meta:
        ordering = ["-reviewed_at"]
        indexes = [models.Index(fields=["learner", "reviewed_at"], name="review_learner_time")]

    def __str__(self) -> str:
        return f"{self.learner} · {self.word.term} · {self.outcome}"


class OralQuiz(models.Model):
    """An examiner's oral quiz inside a voice session; its grade becomes a voice TestResult."""

    session = models.ForeignKey(TutorSession, on_delete=models.CASCADE, related_name="quizzes")
    words = models.JSONField(default=list, help_text="The terms quizzed, in order.")
    answers = models.JSONField(default=dict, blank=True, help_text="term -> outcome")
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    result = models.OneToOneField(
        TestResult, on_delete=models.SET_NULL, null=True, blank=True, related_name="oral_quiz"
    )

    class Meta:
        verbose_name_plural = "oral quizzes"
        ordering = ["-started_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["session"],
                condition=Q(finished_at__isnull=True),
                name="quiz_one_open_per_session",
            ),
        ]

    def __str__(self) -> str:
        return f"Quiz {self.pk} · session {self.session_id}"


class CallLease(models.Model):
    """Which server process holds the sideband of a live call: one holder at a time.

    A process claims a lease that nobody holds or whose holder stopped renewing it, renews it
    every few seconds while its sideband is connected, and ends it when the call ends. A call
    whose holder died is taken over once ``expires_at`` passes.
    """

    session = models.ForeignKey(TutorSession, on_delete=models.CASCADE, related_name="leases")
    call_id = models.CharField(max_length=128, unique=True)
    holder = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField(default=timezone.now)
    joined_at = models.DateTimeField(
        null=True, blank=True, help_text="When the holder last joined the call's sideband."
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["ended_at", "expires_at"], name="lease_open_expiry")]

    def __str__(self) -> str:
        return f"{self.call_id} · {self.holder or 'unheld'}"


class WrittenTestSheet(models.Model):
    """The questions of a written test a learner was given, kept on the server under the test's
    one-off nonce: the form carries only the signed nonce, so it tells nothing of the answers.
    Sheets older than a test may be are deleted when new ones are made."""

    nonce = models.CharField(max_length=64, unique=True)
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="written_test_sheets"
    )
    questions = models.JSONField(help_text="[[word id, kind, [option word ids]], ...]")
    created_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"{self.learner_id} · {self.nonce}"

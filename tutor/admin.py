from django.contrib import admin

from tutor.models import (
    Assignment,
    ConversationItem,
    TestResult,
    TutorSession,
    Word,
    WordList,
    WordProgress,
)


class WordInline(admin.TabularInline):
    model = Word
    extra = 1
    fields = ["position", "term", "meaning", "example", "part_of_speech"]


class AssignmentInline(admin.TabularInline):
    model = Assignment
    extra = 1
    autocomplete_fields = ["learner"]


@admin.register(WordList)
class WordListAdmin(admin.ModelAdmin):
    list_display = ["name", "language", "word_count", "learner_count", "created_at"]
    list_filter = ["language"]
    search_fields = ["name", "description"]
    inlines = [WordInline, AssignmentInline]

    def get_queryset(self, request):
        from django.db.models import Count

        return (
            super()
            .get_queryset(request)
            .annotate(
                _words=Count("words", distinct=True), _learners=Count("assignments", distinct=True)
            )
        )

    @admin.display(description="words", ordering="_words")
    def word_count(self, obj) -> int:
        return obj._words

    @admin.display(description="learners", ordering="_learners")
    def learner_count(self, obj) -> int:
        return obj._learners


@admin.register(Word)
class WordAdmin(admin.ModelAdmin):
    list_display = ["term", "meaning", "part_of_speech", "word_list"]
    list_filter = ["word_list", "part_of_speech", "word_list__language"]
    search_fields = ["term", "meaning", "example"]
    list_select_related = ["word_list"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["learner", "word_list", "assigned_at"]
    list_filter = ["word_list"]
    search_fields = ["learner__email", "word_list__name"]
    autocomplete_fields = ["learner", "word_list"]
    list_select_related = ["learner", "word_list"]


@admin.register(WordProgress)
class WordProgressAdmin(admin.ModelAdmin):
    list_display = [
        "learner",
        "word",
        "repetitions",
        "interval_days",
        "ease",
        "due_at",
        "last_result",
        "correct_count",
        "incorrect_count",
        "last_reviewed_at",
    ]
    list_filter = ["last_result", "word__word_list", "due_at"]
    search_fields = ["learner__email", "word__term"]
    list_select_related = ["learner", "word"]
    raw_id_fields = ["learner", "word"]
    date_hierarchy = "due_at"


@admin.register(TestResult)
class TestResultAdmin(admin.ModelAdmin):
    list_display = ["learner", "word_list", "taken_at", "score", "max_score", "percent", "source"]
    list_filter = ["source", "word_list", "taken_at"]
    search_fields = ["learner__email"]
    list_select_related = ["learner", "word_list"]
    raw_id_fields = ["learner"]
    date_hierarchy = "taken_at"

    @admin.display(description="%")
    def percent(self, obj) -> int:
        return obj.percent


class ConversationItemInline(admin.TabularInline):
    model = ConversationItem
    fields = ["order", "role", "kind", "text", "item_id", "created_at"]
    readonly_fields = fields
    ordering = ["order", "created_at"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TutorSession)
class TutorSessionAdmin(admin.ModelAdmin):
    list_display = ["id", "learner", "status", "model", "minted_at", "connected_at", "ended_at", "end_reason"]
    list_filter = ["status", "model", "minted_at"]
    search_fields = ["learner__email", "call_id"]
    list_select_related = ["learner"]
    raw_id_fields = ["learner"]
    date_hierarchy = "minted_at"
    readonly_fields = ["minted_at", "connected_at", "ended_at", "call_id", "usage", "instructions", "focus_words"]
    inlines = [ConversationItemInline]


@admin.register(ConversationItem)
class ConversationItemAdmin(admin.ModelAdmin):
    list_display = ["session", "order", "role", "kind", "short_text", "created_at"]
    list_filter = ["role", "kind"]
    search_fields = ["text", "item_id", "session__learner__email"]
    list_select_related = ["session"]
    raw_id_fields = ["session"]

    @admin.display(description="text")
    def short_text(self, obj) -> str:
        return obj.text[:80]

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from accounts.models import User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = [
        "email",
        "display_name",
        "target_language",
        "cefr_level",
        "daily_voice_minutes",
        "is_active",
        "is_staff",
        "last_login",
    ]
    list_filter = ["is_staff", "is_active", "cefr_level", "target_language", "native_language"]
    search_fields = ["email", "display_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        (
            "Learner profile",
            {
                "fields": [
                    "display_name",
                    "native_language",
                    "target_language",
                    "cefr_level",
                    "daily_voice_minutes",
                ]
            },
        ),
        (
            "Permissions",
            {"fields": ["is_active", "is_staff", "is_superuser", "groups", "user_permissions"]},
        ),
        ("Important dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (
            None,
            {
                "classes": ["wide"],
                "fields": ["email", "password1", "password2", "display_name", "cefr_level"],
            },
        ),
    ]

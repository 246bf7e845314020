"""Classes in the admin: roster, assigned lists with due dates, CSV invitations, the overview."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from common import clock
from staff import class_invites
from staff.overview import SORTS, class_overview
from staff.scope import scoped_learners
from tutor.classrooms import classroom_sync, classrooms_taught_by
from tutor.models import Classroom, ClassroomList


class ClassroomListInline(admin.TabularInline):
    model = ClassroomList
    extra = 1
    fields = ["word_list", "due_on", "assigned_at"]
    readonly_fields = ["assigned_at"]
    autocomplete_fields = ["word_list"]


class ClassroomChoiceForm(forms.Form):
    """The form of a bulk action that puts something in one of the user's classes."""

    classroom = forms.ModelChoiceField(queryset=Classroom.objects.none(), label="Class")

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["classroom"].queryset = classrooms_taught_by(user)


class ClassroomListForm(ClassroomChoiceForm):
    due_on = forms.DateField(
        label="Due date",
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Optional: when the class should know the list.",
    )


class ClassInviteForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text=(
            "Header row: email, display name, native language, level. UTF-8, comma or "
            f"semicolon separated, up to {class_invites.MAX_ROWS} learners."
        ),
    )


def action_form_response(modeladmin, request, queryset, *, form, action: str, title: str, button: str):
    """The page a bulk action shows to ask for its details (the rows stay selected)."""
    context = {
        **modeladmin.admin_site.each_context(request),
        "opts": modeladmin.opts,
        "title": title,
        "form": form,
        "queryset": queryset,
        "action": action,
        "button": button,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
    }
    return TemplateResponse(request, "admin/staff/action_form.html", context)


@admin.register(Classroom)
class ClassroomAdmin(admin.ModelAdmin):
    list_display = ["name", "teacher_names", "learner_count", "list_count", "overview"]
    search_fields = ["name"]
    filter_horizontal = ["learners", "teachers"]
    inlines = [ClassroomListInline]

    def get_queryset(self, request):
        return (
            classrooms_taught_by(request.user)
            .annotate(
                _learners=Count("learners", distinct=True), _lists=Count("lists", distinct=True)
            )
            .prefetch_related("teachers")
        )

    def get_fields(self, request, obj=None):
        fields = ["name", "learners"]
        return [*fields, "teachers"] if request.user.is_superuser else fields

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "learners":
            field.queryset = scoped_learners(field.queryset.filter(is_staff=False), request.user)
        return field

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        if not change and not request.user.is_superuser:
            form.instance.teachers.add(request.user)  # a teacher's new class is theirs
        classroom_sync(classroom=form.instance)

    # --- columns --------------------------------------------------------

    @admin.display(description="teachers")
    def teacher_names(self, obj: Classroom) -> str:
        return ", ".join(teacher.name for teacher in obj.teachers.all()) or "—"

    @admin.display(description="learners", ordering="_learners")
    def learner_count(self, obj: Classroom) -> int:
        return obj._learners

    @admin.display(description="lists", ordering="_lists")
    def list_count(self, obj: Classroom) -> int:
        return obj._lists

    @admin.display(description="overview")
    def overview(self, obj: Classroom) -> str:
        return format_html(
            '<a href="{}">Overview</a> · <a href="{}">Invite from CSV</a>',
            reverse("admin:tutor_classroom_overview", args=[obj.pk]),
            reverse("admin:tutor_classroom_invite", args=[obj.pk]),
        )

    # --- pages ----------------------------------------------------------

    def get_urls(self):
        view = self.admin_site.admin_view
        return [
            path("<int:classroom_id>/overview/", view(self.overview_view), name="tutor_classroom_overview"),
            path("<int:classroom_id>/invite/", view(self.invite_view), name="tutor_classroom_invite"),
            path("invite-template.csv", view(self.invite_template_view), name="tutor_classroom_invite_template"),
            *super().get_urls(),
        ]

    def _classroom(self, request, classroom_id: int) -> Classroom:
        classroom = get_object_or_404(self.get_queryset(request), pk=classroom_id)
        if not self.has_view_permission(request, classroom):
            raise PermissionDenied
        return classroom

    def overview_view(self, request, classroom_id: int):
        """Each learner of the class with their standing, who needs attention and why."""
        classroom = self._classroom(request, classroom_id)
        sort = request.GET.get("o", "attention")
        descending = request.GET.get("d", "1" if sort in {"attention", "overdue"} else "0") == "1"
        overview = class_overview(
            classroom=classroom, now=clock.now(), sort=sort, descending=descending
        )
        columns = [
            ("name", "Learner"),
            ("attention", "Needs attention"),
            ("mastered", "Mastered"),
            ("due", "Due"),
            ("overdue", "Overdue"),
            ("minutes", "Minutes this week"),
            ("active", "Last active"),
            ("grade", "Average grade"),
            ("trend", "Trend"),
        ]
        headers = [
            {
                "key": key,
                "label": label,
                "sorted": key == overview.sort,
                "descending": overview.descending,
                "query": f"?o={key}&d={'0' if key == overview.sort and overview.descending else '1'}",
            }
            for key, label in columns
            if key in SORTS
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": classroom,
            "title": f"{classroom.name}: overview",
            "overview": overview,
            "headers": headers,
            "lists": classroom.lists.select_related("word_list"),
            "sessions_url": reverse("admin:tutor_tutorsession_changelist"),
        }
        return TemplateResponse(request, "admin/tutor/classroom/overview.html", context)

    def invite_view(self, request, classroom_id: int):
        """Invite a whole class from a CSV file: every row reported, nothing half-done."""
        classroom = self._classroom(request, classroom_id)
        if not (
            self.has_change_permission(request, classroom) and request.user.has_perm("accounts.add_user")
        ):
            raise PermissionDenied
        form = ClassInviteForm(request.POST or None, request.FILES or None)
        report = None
        if request.method == "POST" and form.is_valid():
            report = class_invites.classroom_invite(
                request=request, classroom=classroom, upload=form.cleaned_data["file"]
            )
            if report.ok:
                count = len(report.invited)
                self.message_user(
                    request,
                    f"Invited {count} learner{'s' if count != 1 else ''} to {classroom.name}.",
                    messages.SUCCESS,
                )
                return redirect("admin:tutor_classroom_overview", classroom.pk)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": classroom,
            "title": f"Invite learners to {classroom.name}",
            "form": form,
            "report": report,
            "columns": class_invites.COLUMNS,
        }
        return TemplateResponse(request, "admin/tutor/classroom/invite.html", context)

    def invite_template_view(self, request):
        if not self.has_view_permission(request):
            raise PermissionDenied
        response = HttpResponse(class_invites.TEMPLATE_CSV, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="parlance-class-invite.csv"'
        return response

"""The operators' per-task overrides (Task states): pause or resume a task, or replace its
schedule, on a form that picks the task from the registry; the saving, through the control layer
and the confirmation of destructive work, is :class:`~.state_changes.ConfirmingStateAdmin`'s."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_housekeeping.admin import state_changes
from django_housekeeping.admin.base import actor
from django_housekeeping.models import TaskState
from django_housekeeping.presenters import describe_effective_schedule
from django_housekeeping.running import control
from django_housekeeping.tasks.registry import registry

if TYPE_CHECKING:
    TaskStateFormBase = forms.ModelForm[TaskState]
else:
    TaskStateFormBase = forms.ModelForm


def task_choices() -> list[tuple[str, str]]:
    """Every registered task and group by name ("all" is not a task that can be paused)."""
    return [
        ("", "---------"),
        *((task.name, f"{task.name} (group)" if task.is_group else task.name) for task in registry),
    ]


class TaskStatePausedForm(TaskStateFormBase):
    """The change list's form: ``paused`` only, for pausing a task from the list."""

    class Meta:
        model = TaskState
        fields = ["paused"]


class TaskStateForm(TaskStatePausedForm):
    """Pick the task from the registry, so that nobody types a name the scheduler cannot know."""

    task_name = forms.ChoiceField(label=_("Task"), choices=task_choices)

    class Meta:
        model = TaskState
        fields = ["task_name", "paused", "schedule"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields.get("task_name")
        if isinstance(field, forms.ChoiceField) and self.instance.pk is not None:
            # An override belongs to its task: delete it rather than move it to another one.
            field.disabled = True
            name = self.instance.task_name
            if name not in registry.as_mapping():
                field.choices = [*task_choices(), (name, f"{name} (not registered)")]
        schedule = self.fields.get("schedule")
        if schedule is not None:
            schedule.widget.attrs.setdefault("placeholder", "30 3 * * *")

    def clean_task_name(self) -> str:
        """A registered task: an override of a task that is gone can be deleted, not edited."""
        name = str(self.cleaned_data.get("task_name") or "")
        if name not in registry.as_mapping():
            raise ValidationError(control.UnknownTask([name], registry.as_mapping()).message)
        return name

    def clean_schedule(self) -> str:
        """Validated by the control layer, with its message."""
        try:
            return control.schedule_override(self.cleaned_data.get("schedule"))
        except control.ControlError as exc:
            raise ValidationError(exc.message) from None


@admin.register(TaskState)
class TaskStateAdmin(state_changes.ConfirmingStateAdmin):
    """Pause or resume a task, or replace its schedule; the running scheduler follows in seconds."""

    form = TaskStateForm
    list_display = ["task_name", "paused", "schedule_display", "effective_schedule", "updated_at"]
    list_display_links = ["task_name"]
    list_editable = ["paused"]
    list_filter = ["paused"]
    search_fields = ["task_name"]
    actions = ["pause", "resume"]
    readonly_fields = ["effective_schedule", "updated_at", "changes"]

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> type[TaskStateFormBase]:
        kwargs.setdefault("form", TaskStatePausedForm)
        return super().get_changelist_form(request, **kwargs)

    def get_fields(self, request: HttpRequest, obj: TaskState | None = None) -> tuple[str, ...]:
        editable = ("task_name", "paused", "schedule")
        return (
            editable if obj is None else (*editable, "effective_schedule", "updated_at", "changes")
        )

    @admin.display(description=_("schedule override"), ordering="schedule")
    def schedule_display(self, state: TaskState) -> str:
        return state.schedule or "—"

    @admin.display(description=_("effective schedule"))
    def effective_schedule(self, state: TaskState) -> str:
        task = registry.as_mapping().get(state.task_name)
        if task is None:
            return "unknown task (not scheduled)" if state.task_name else "—"
        return describe_effective_schedule(task, state.schedule)

    # Permissions and writes: the control layer's, as on every face.

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: TaskState | None = None) -> bool:
        person = actor(request)
        return control.allowed(person, control.VIEW) or control.allowed(person, control.CHANGE)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return control.allowed(actor(request), control.CHANGE)

    def has_change_permission(self, request: HttpRequest, obj: TaskState | None = None) -> bool:
        return control.allowed(actor(request), control.CHANGE)

    def has_delete_permission(self, request: HttpRequest, obj: TaskState | None = None) -> bool:
        return control.allowed(actor(request), control.CHANGE)

    @admin.action(description=_("Pause the selected tasks"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[TaskState]) -> None:
        self._set_paused(request, queryset, paused=True)

    @admin.action(description=_("Resume the selected tasks"), permissions=["start"])
    def resume(self, request: HttpRequest, queryset: QuerySet[TaskState]) -> HttpResponse | None:
        self._set_paused(request, queryset, paused=False)
        return state_changes.confirmation_redirect(request, self.admin_site.name)

    def _set_paused(
        self, request: HttpRequest, queryset: QuerySet[TaskState], *, paused: bool
    ) -> None:
        changes = []
        for name in queryset.values_list("task_name", flat=True):
            try:
                change = state_changes.set_state_or_ask(
                    request, actor(request), name, paused=paused
                )
            except control.ControlError as exc:
                messages.error(request, exc.message)
                continue
            if change is not None:
                changes.append(change)
        if not changes:
            return
        changed = sum(change.changed for change in changes)
        unchanged = len(changes) - changed
        if paused:
            text = ngettext("Paused %(count)d task.", "Paused %(count)d tasks.", changed)
            already = ngettext(
                "%(count)d was already paused.", "%(count)d were already paused.", unchanged
            )
        else:
            text = ngettext("Resumed %(count)d task.", "Resumed %(count)d tasks.", changed)
            already = ngettext("%(count)d was not paused.", "%(count)d were not paused.", unchanged)
        message = text % {"count": changed}
        if unchanged:
            message += " " + already % {"count": unchanged}
        if changed:
            message += " " + str(_("The scheduler picks this up within seconds."))
        messages.add_message(request, messages.SUCCESS if changed else messages.INFO, message)

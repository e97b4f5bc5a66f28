"""The admin's side of starting destructive work (docs/permissions.md#starting-destructive-work).

Resuming a destructive task or changing its schedule, on the Task states pages (change form,
change list, actions) or the tasks page's Resume button, asks the control layer, which answers
:class:`~django_housekeeping.running.control.NeedsConfirmation` until the change is confirmed.
The admin then starts the task's dry run and sends the person to the confirmation page "Run now"
uses (``confirm_view``), carrying the changes asked for in a signed token; the page's "Yes, I'm
sure" makes them, confirmed. Each change is recorded by the control layer
(:class:`~django_housekeeping.models.TaskStateChange`) and listed on the task state's page.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from django_housekeeping.admin.base import ModelAdmin, actor
from django_housekeeping.models import TaskState, TaskStateChange
from django_housekeeping.running import control

SALT = "django_housekeeping.admin.state_change"
# A confirmation page older than this is refused: its dry run says what was due back then.
MAX_AGE = 3600
PENDING = "_housekeeping_pending_state_changes"
HISTORY_ROWS = 20


def pending(request: HttpRequest) -> list[dict[str, Any]]:
    """The changes this request asked for that wait for their confirmation."""
    items: list[dict[str, Any]] = request.__dict__.setdefault(PENDING, [])
    return items


def set_state_or_ask(
    request: HttpRequest,
    actor: control.Actor,
    name: str,
    *,
    paused: bool | None = None,
    schedule: str | None = None,
) -> control.StateChange | None:
    """:func:`control.set_state`; for a change that needs its confirmation, start the task's dry
    run, note the change as pending on ``request`` and return ``None`` (nothing changed yet).
    Raises the control layer's errors (:class:`~control.Forbidden`, a :class:`~control.Conflict`
    of the dry run, ...)."""
    try:
        return control.set_state(actor, name, paused=paused, schedule=schedule)
    except control.NeedsConfirmation as exc:
        (dispatched,) = control.trigger(actor, [exc.task], dry_run=True)
        pending(request).append(
            {"task": exc.task, "paused": paused, "schedule": schedule, "run": dispatched.run.pk}
        )
        return None


def confirmation_redirect(request: HttpRequest, site_name: str) -> HttpResponseRedirect | None:
    """The confirmation page of the pending changes (with their dry runs), or ``None``."""
    items = pending(request)
    if not items:
        return None
    url = reverse(f"{site_name}:django_housekeeping_confirm", current_app=site_name)
    query = {
        "runs": ",".join(str(item["run"]) for item in items),
        "state": signing.dumps(items, salt=SALT, compress=True),
    }
    return HttpResponseRedirect(f"{url}?{urlencode(query)}")


def changes_of(token: str) -> list[dict[str, Any]] | None:
    """The pending changes a confirmation page carries, or ``None`` for a token that is not
    ours, altered or too old."""
    try:
        items = signing.loads(token, salt=SALT, max_age=MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        return None
    return items


def describe(items: list[dict[str, Any]]) -> list[str]:
    """``"threads: paused → resumed"`` for each pending change, from the task's state now."""
    lines = []
    for item in items:
        name = str(item.get("task"))
        state = TaskState.objects.filter(task_name=name).first()
        paused, schedule = (state.paused, state.schedule) if state is not None else (False, "")
        change = TaskStateChange(
            task_name=name,
            paused_before=paused,
            paused_after=paused if item.get("paused") is None else bool(item["paused"]),
            schedule_before=schedule,
            schedule_after=schedule if item.get("schedule") is None else str(item["schedule"]),
        )
        lines.append(f"{name}: {change.describe()}")
    return lines


def apply_confirmed(
    request: HttpRequest, actor: control.Actor, items: list[dict[str, Any]]
) -> None:
    """Make the confirmed changes (through the control layer, which checks again) and say so."""
    for item in items:
        try:
            change = control.set_state(
                actor,
                item.get("task"),
                paused=item.get("paused"),
                schedule=item.get("schedule"),
                confirmed=True,
            )
        except control.ControlError as exc:
            messages.error(request, exc.message)
        else:
            level = messages.SUCCESS if change.changed else messages.INFO
            messages.add_message(request, level, change.detail)


def history(state: TaskState) -> SafeString:
    """The latest changes of the task's state: when, who, through which face, before → after."""
    changes = (
        TaskStateChange.objects.filter(task_name=state.task_name)
        .select_related("changed_by")
        .order_by("-changed_at", "-id")[:HISTORY_ROWS]
    )
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                f"{timezone.localtime(change.changed_at):%Y-%m-%d %H:%M:%S}",
                change.changed_by or "system",
                change.get_via_display(),
                change.describe(),
                "confirmed after a dry run" if change.confirmed else "",
            )
            for change in changes
        ),
    )
    if not rows:
        return format_html("{}", "No change recorded.")
    return format_html(
        '<table class="housekeeping-state-changes"><thead><tr><th>{}</th><th>{}</th><th>{}</th>'
        "<th>{}</th><th></th></tr></thead><tbody>{}</tbody></table>",
        "When",
        "Who",
        "Through",
        "Before → after",
        rows,
    )


class ConfirmingStateAdmin(ModelAdmin[TaskState]):
    """The Task states admin's saving: through the control layer, and, for a change that starts
    a destructive task's work, through the confirmation page first (nothing is saved nor logged
    by the admin meanwhile). Also lists the recorded changes on the change page (``changes``)."""

    @admin.display(description=_("changes"))
    def changes(self, state: TaskState) -> SafeString:
        """Who paused, resumed or rescheduled it, when, and before → after."""
        return history(state)

    def has_start_permission(self, request: HttpRequest) -> bool:
        """Resuming starts a task's work: ``change_taskstate`` and ``run_task``."""
        return control.may_start(actor(request))

    def save_model(
        self, request: HttpRequest, obj: TaskState, form: forms.Form, change: bool
    ) -> None:
        """Saved by the control layer, which records who asked; resuming or rescheduling a
        destructive task waits for its dry run's confirmation (this module)."""
        schedule = obj.schedule if "schedule" in form.fields else None
        try:
            done = set_state_or_ask(
                request, actor(request), obj.task_name, paused=obj.paused, schedule=schedule
            )
        except control.Forbidden as exc:
            raise PermissionDenied(exc.message) from None
        except control.ControlError as exc:
            # The dry run could not start (a run is active, the throttle): nothing changes.
            pending(request).append({"error": exc.message})
            return
        if done is None:
            return
        # The admin goes on with the saved row (its id, for the redirect and the log entry); an
        # override that changes nothing is kept as a row, as the person asked for one.
        saved, _created = TaskState.objects.get_or_create(task_name=obj.task_name)
        obj.pk = saved.pk
        obj.refresh_from_db()

    def _waiting(self, request: HttpRequest) -> HttpResponse | None:
        """The confirmation page when a change waits for it; the refusals said as errors."""
        items = pending(request)
        for item in items:
            if "error" in item:
                messages.error(request, item["error"])
        items[:] = [item for item in items if "error" not in item]
        return confirmation_redirect(request, self.admin_site.name)

    def _asked(self, request: HttpRequest) -> bool:
        return bool(request.__dict__.get(PENDING))

    def message_user(self, request: HttpRequest, message: Any, *args: Any, **kwargs: Any) -> None:
        # Not "changed successfully" for a change that waits for its confirmation.
        if not self._asked(request):
            super().message_user(request, message, *args, **kwargs)

    def log_addition(self, request: HttpRequest, obj: TaskState, message: Any) -> Any:
        return None if self._asked(request) else super().log_addition(request, obj, message)

    def log_change(self, request: HttpRequest, obj: TaskState, message: Any) -> Any:
        return None if self._asked(request) else super().log_change(request, obj, message)

    def response_add(
        self, request: HttpRequest, obj: TaskState, post_url_continue: str | None = None
    ) -> HttpResponse:
        if self._asked(request):
            return self._waiting(request) or HttpResponseRedirect(self._changelist_url())
        return super().response_add(request, obj, post_url_continue)

    def response_change(self, request: HttpRequest, obj: TaskState) -> HttpResponse:
        if self._asked(request):
            return self._waiting(request) or HttpResponseRedirect(self._changelist_url())
        return super().response_change(request, obj)

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        response = super().changelist_view(request, extra_context)
        if self._asked(request):
            return self._waiting(request) or response
        return response

    def _changelist_url(self) -> str:
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_taskstate_changelist",
            current_app=self.admin_site.name,
        )

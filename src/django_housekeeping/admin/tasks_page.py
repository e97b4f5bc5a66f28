"""The tasks page of the run history's admin: every task with its schedule and last run, the
**Run now**, **Dry run** and **Pause** / **Resume** buttons, and the confirmation page of a run
that deletes (dry-run first, like Django's ``delete_selected``), which also confirms the changes
of a task's state that start destructive work (:mod:`.state_changes`)."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.admin.exceptions import NotRegistered as ModelAdminNotRegistered
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from django_housekeeping.admin import state_changes
from django_housekeeping.admin.base import CONFIRM_REFRESH_SECONDS, RunAdminBase, actor
from django_housekeeping.models import TaskRun, TaskState
from django_housekeeping.presenters import (
    MAX_PK,
    deletion_counts,
    run_summary,
    task_views,
    to_json,
)
from django_housekeeping.running import control
from django_housekeeping.tasks.order import in_order
from django_housekeeping.tasks.registry import registry

MAX_CONFIRM_RUNS = 50


class TasksPage(RunAdminBase):
    """The tasks page and the confirmation page, part of :class:`~.runs.TaskRunAdmin`."""

    # Running: every run is dispatched (it never executes in the request); a real run of a task
    # that deletes is first dry-run and confirmed, like Django's delete_selected.

    def _start(
        self, request: HttpRequest, names: list[str], *, dry_run: bool
    ) -> HttpResponse | None:
        """Dispatch runs of ``names``; a real run of a task that may delete is dry-run first and
        the person is sent to the confirmation page. ``None``: back where they came from."""
        person = actor(request)
        previews: list[TaskRun] = []
        for name in names:
            preview = not dry_run and name in registry and registry.is_destructive(name)
            try:
                (dispatched,) = control.trigger(person, [name], dry_run=dry_run or preview)
            except control.ControlError as exc:
                messages.error(request, exc.message)
                continue
            if preview:
                previews.append(dispatched.run)
            else:
                self._report_started(request, dispatched.run)
        if previews:
            return HttpResponseRedirect(self._confirm_url(previews))
        return None

    def _report_started(self, request: HttpRequest, run: TaskRun) -> None:
        messages.success(
            request,
            # Starts with the link: the admin capitalizes a message's first letter, and a task's
            # name must be shown as it is spelled.
            format_html(
                '<a href="{}">Run #{}</a> of {}{} started: it runs outside this request; its '
                "page shows its progress.",
                self._change_url(run),
                run.pk,
                run.task_name,
                " (dry run)" if run.dry_run else "",
            ),
        )

    def _confirm_url(self, previews: list[TaskRun], state: str = "") -> str:
        url = reverse(
            f"{self.admin_site.name}:django_housekeeping_confirm",
            current_app=self.admin_site.name,
        )
        query = {"runs": ",".join(str(run.pk) for run in previews)}
        return f"{url}?{urlencode({**query, 'state': state} if state else query, safe=',')}"

    # The tasks page and its buttons.

    def tasks_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": _("Housekeeping tasks"),
            "opts": self.opts,
            "can_run": self.has_run_permission(request),
            "can_pause": self.has_pause_permission(request),
            "states_url": self._task_state_changelist_url(request),
            "rows": [
                {
                    "task": view.task,
                    "schedule": view.schedule,
                    "options": to_json(view.task.options),
                    "paused": view.paused,
                    "destructive": registry.is_destructive(view.task.name),
                    "last_run": view.last_run,
                    "members": in_order(view.task.members),  # in the order they run
                }
                for view in task_views()
            ],
        }
        return TemplateResponse(request, "admin/django_housekeeping/tasks.html", context)

    def _task_state_changelist_url(self, request: HttpRequest) -> str | None:
        """The link to the overrides, for those who may see them on this admin site."""
        try:
            state_admin = self.admin_site.get_model_admin(TaskState)
        except ModelAdminNotRegistered:
            return None
        if not state_admin.has_view_or_change_permission(request):
            return None
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_taskstate_changelist",
            current_app=self.admin_site.name,
        )

    def run_view(self, request: HttpRequest) -> HttpResponse:
        """The tasks page's buttons: dispatch a (dry) run, or dry-run first and confirm."""
        if not self.has_run_permission(request):
            raise PermissionDenied
        name = request.POST.get("task", "")
        if name not in registry:
            messages.error(request, control.UnknownTask([name], registry.names()).message)
            return HttpResponseRedirect(self._tasks_url())
        response = self._start(request, [name], dry_run=request.POST.get("dry_run") == "1")
        return response or HttpResponseRedirect(self._tasks_url())

    def confirm_view(self, request: HttpRequest) -> HttpResponse:
        """What the dry runs found, and a button to run the tasks for real (``post=yes``)."""
        if not self.has_run_permission(request):
            raise PermissionDenied
        request.current_app = self.admin_site.name
        token = request.GET.get("state") or request.POST.get("state") or ""
        # Resuming or rescheduling a destructive task: the changes asked for, with their dry runs.
        changes = state_changes.changes_of(token) if token else None
        if token and changes is None:
            messages.error(request, _("That confirmation has expired: ask for the change again."))
            return HttpResponseRedirect(self._tasks_url())
        runs = ",".join(str(item.get("run")) for item in changes or ())
        previews = self._previews(runs or request.GET.get("runs") or request.POST.get("runs") or "")
        if not previews:
            messages.error(request, _("Nothing to confirm: those dry runs do not exist."))
            return HttpResponseRedirect(self._tasks_url())
        finished = all(run.is_finished for run in previews)
        succeeded = all(run.status == TaskRun.Status.SUCCEEDED for run in previews)
        if request.method == "POST" and request.POST.get("post") == "yes":
            if not (finished and succeeded):
                messages.error(request, _("Only a dry run that succeeded can be confirmed."))
                return HttpResponseRedirect(self._confirm_url(previews, token))
            if changes is not None:
                state_changes.apply_confirmed(request, actor(request), changes)
                return HttpResponseRedirect(self._tasks_url())
            for preview in previews:
                try:
                    (dispatched,) = control.trigger(actor(request), [preview.task_name])
                except control.ControlError as exc:
                    messages.error(request, exc.message)
                    continue
                self._report_started(request, dispatched.run)
            return HttpResponseRedirect(self._tasks_url())
        context = {
            **self.admin_site.each_context(request),
            "title": _("Are you sure?"),
            "opts": self.opts,
            "previews": [
                {
                    "run": run,
                    "url": self._change_url(run),
                    "summary": run_summary(run),
                    "counts": sorted(deletion_counts(run.result).items()),
                }
                for run in previews
            ],
            "runs": ",".join(str(run.pk) for run in previews),
            "state": token,
            "state_changes": state_changes.describe(changes or []),
            "finished": finished,
            "succeeded": succeeded,
            "refresh_seconds": CONFIRM_REFRESH_SECONDS,
        }
        return TemplateResponse(request, "admin/django_housekeeping/confirm_run.html", context)

    @staticmethod
    def _previews(text: str) -> list[TaskRun]:
        """The dry runs named by ``"12,13"``: only finished or active dry runs, in that order."""
        ids = [int(part) for part in text.split(",") if part.isascii() and part.isdigit()]
        ids = [pk for pk in ids if pk <= MAX_PK][:MAX_CONFIRM_RUNS]
        found = TaskRun.objects.filter(pk__in=ids, dry_run=True, parent__isnull=True).in_bulk()
        return [found[pk] for pk in dict.fromkeys(ids) if pk in found]

    # Pausing and resuming: through the control layer; resuming a task that deletes is confirmed.

    def pause_view(self, request: HttpRequest) -> HttpResponse:
        """Pause (``paused=1``) or resume (``paused=0``) a task, through the control layer."""
        if not self.has_pause_permission(request):
            raise PermissionDenied
        try:
            change = state_changes.set_state_or_ask(
                request,
                actor(request),
                request.POST.get("task", ""),
                paused=request.POST.get("paused") == "1",
            )
        except control.Forbidden as exc:
            raise PermissionDenied(exc.message) from None
        except control.ControlError as exc:
            messages.error(request, exc.message)
        else:
            if change is not None:
                level = messages.SUCCESS if change.changed else messages.INFO
                messages.add_message(request, level, change.detail)
        confirm = state_changes.confirmation_redirect(request, self.admin_site.name)
        return confirm or HttpResponseRedirect(self._tasks_url())

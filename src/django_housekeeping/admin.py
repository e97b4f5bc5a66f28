"""Admin: the run history (read-only) with "run again" actions, a page listing the tasks with
run and pause buttons, the confirmation page of a run that deletes, the operators' per-task
overrides (TaskState), the scheduler's lease and a read-only view of the job store.

Who may do what is the control layer's decision (:mod:`django_housekeeping.running.control`),
as on every face; runs are dispatched, never executed in the request.
"""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

# Imported for its registrations, so that they are in place to be replaced below whatever the
# order of INSTALLED_APPS: its admin can run, add and delete jobs behind the library's back.
import django_apscheduler.admin  # noqa: F401
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.exceptions import NotRegistered as ModelAdminNotRegistered
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import quote as admin_quote
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from django_housekeeping import admin_cancel, admin_states
from django_housekeeping.models import (
    DeletionTotal,
    ErasureRecord,
    LegalHold,
    RunTotal,
    SchedulerLease,
    TaskAlert,
    TaskRun,
    TaskState,
)
from django_housekeeping.presenters import (
    MAX_PK,
    capped_count,
    deletion_counts,
    describe_effective_schedule,
    find_run,
    policies_payload,
    preview_payload,
    result_details,
    run_summary,
    status_label,
    task_views,
    to_json,
    trigger_label,
)
from django_housekeeping.running import control
from django_housekeeping.tasks.order import in_order
from django_housekeeping.tasks.registry import registry
from django_housekeeping.tasks.retention import policies

# The confirmation page reloads itself this often while its dry runs are going.
CONFIRM_REFRESH_SECONDS = 2
MAX_CONFIRM_RUNS = 50

if TYPE_CHECKING:
    TaskRunAdminBase = admin.ModelAdmin[TaskRun]
    TaskStateAdminBase = admin.ModelAdmin[TaskState]
    SchedulerLeaseAdminBase = admin.ModelAdmin[SchedulerLease]
    JobAdminBase = admin.ModelAdmin[DjangoJob]
    TaskAlertAdminBase = admin.ModelAdmin[TaskAlert]
    RunTotalAdminBase = admin.ModelAdmin[RunTotal]
    DeletionTotalAdminBase = admin.ModelAdmin[DeletionTotal]
    TaskStateFormBase = forms.ModelForm[TaskState]
    LegalHoldAdminBase = admin.ModelAdmin[LegalHold]
    ErasureRecordAdminBase = admin.ModelAdmin[ErasureRecord]
else:
    TaskRunAdminBase = TaskStateAdminBase = SchedulerLeaseAdminBase = JobAdminBase = (
        admin.ModelAdmin
    )
    TaskAlertAdminBase = RunTotalAdminBase = DeletionTotalAdminBase = admin.ModelAdmin
    TaskStateFormBase = forms.ModelForm
    LegalHoldAdminBase = ErasureRecordAdminBase = admin.ModelAdmin


def _actor(request: HttpRequest) -> control.Actor:
    return control.person(request.user, TaskRun.Trigger.ADMIN)


class ReadOnlyForViewers:
    """A model admin that shows its rows to those who may see the history (``view_taskrun``) and
    lets nobody add, change or delete one: they are the library's records, not forms."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return control.allowed(_actor(request), control.VIEW)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return control.allowed(_actor(request), control.VIEW)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class CappedCountPaginator(Paginator):  # type: ignore[type-arg]
    """A paginator that counts at most ``limit + 1`` rows (``COUNT(*)`` of a ``LIMIT``ed
    subquery), so that a page of a history of millions of runs costs what it costs in a short
    one; beyond ``limit`` the changelist says "more than" and the filters narrow the list."""

    limit = 10_000

    @cached_property
    def count(self) -> int:
        object_list: Any = self.object_list
        if isinstance(object_list, QuerySet):
            # Unordered: which rows are counted does not matter, and MariaDB sorted every run
            # of a task to count the first of them.
            return capped_count(object_list, self.limit)
        return len(object_list)

    @property
    def capped(self) -> bool:
        """There are more rows than ``limit``: ``count`` is ``limit + 1``."""
        return self.count > self.limit


class TaskNameFilter(admin.SimpleListFilter):
    """The tasks of the registry, rather than a ``DISTINCT`` over the whole history (the filter of
    a task no longer registered still works from its URL, and is listed while chosen)."""

    title = _("task")
    parameter_name = "task_name"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        names = {task.name for task in registry}
        chosen = self.value()
        if chosen:
            names.add(chosen)
        return [(name, name) for name in sorted(names)]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        chosen = self.value()
        return queryset.filter(task_name=chosen) if chosen else queryset


@admin.register(TaskRun)
class TaskRunAdmin(TaskRunAdminBase):
    change_list_template = "admin/django_housekeeping/taskrun/change_list.html"
    change_form_template = "admin/django_housekeeping/taskrun/change_form.html"
    # Compact columns (a dry run is said in its status, who started a run beside its trigger), so
    # that the result keeps a readable width on a 1280 px screen beside the admin's sidebars.
    list_display = [
        "task_name",
        "status_display",
        "started_display",
        "duration_display",
        "trigger_display",
        "summary",
    ]
    # None of the filters reads the history: the statuses and triggers are choices, the tasks
    # the registry's (docs/admin.md#a-long-history).
    list_filter = ["status", "trigger", "dry_run", "started_at", TaskNameFilter]
    # No COUNT(*) of the whole history: the paginator counts up to its limit, then "more than".
    show_full_result_count = False
    paginator = CappedCountPaginator
    search_fields = ["task_name", "error", "host"]
    # No date_hierarchy: its date truncation needs MySQL/MariaDB's time zone tables when USE_TZ is
    # on, and without them the whole changelist fails. The started_at filter needs no such thing.
    list_select_related = ["triggered_by"]
    # Half of Django's 100: rendering rows is the one cost of a page that grows with the page,
    # even written by run_result_list (docs/admin.md#a-long-history).
    list_per_page = 50
    actions = ["run_again", "dry_run_now"]
    fields = (
        "task_name",
        "status",
        "dry_run",
        "trigger",
        "triggered_by",
        "state_change",
        "slot",
        "attempt",
        "retry_of",
        "parent",
        "member_runs",
        "enqueued_at",
        "started_at",
        "finished_at",
        "duration_display",
        "progress_display",
        "host",
        "pid",
        "heartbeat_at",
        "result_display",
        "error_display",
    )
    readonly_fields = fields

    # Permissions: the control layer's, as on every face.

    def has_module_permission(self, request: HttpRequest) -> bool:
        return control.allowed(_actor(request), control.VIEW)

    def has_view_permission(self, request: HttpRequest, obj: TaskRun | None = None) -> bool:
        return control.allowed(_actor(request), control.VIEW)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TaskRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TaskRun | None = None) -> bool:
        return False

    def has_run_permission(self, request: HttpRequest) -> bool:
        return control.allowed(_actor(request), control.RUN)

    def has_pause_permission(self, request: HttpRequest) -> bool:
        return control.allowed(_actor(request), control.CHANGE)

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The run's page, with **Cancel** while it is active (for those who may run tasks)."""
        context = {**(extra_context or {}), "can_cancel": self.has_run_permission(request)}
        return super().change_view(request, object_id, form_url, context)

    @admin.display(description=_("status"), ordering="status")
    def status_display(self, run: TaskRun) -> str:
        status = status_label(run.status)
        return f"{status} ({_('dry run')})" if run.dry_run else status

    @admin.display(description=_("started"), ordering="started_at")
    def started_display(self, run: TaskRun) -> str:
        return format_instant(run.started_at)

    @admin.display(description=_("trigger"), ordering="trigger")
    def trigger_display(self, run: TaskRun) -> str:
        trigger = trigger_label(run.trigger)
        if run.triggered_by is None:
            return trigger
        return f"{trigger} ({run.triggered_by.get_username()})"

    def action_checkbox(self, obj: TaskRun) -> SafeString:
        """Django's checkbox of a row, written at once: Django renders a form widget's template
        for it, a third of a row's rendering time (and its label is translated once)."""
        label = _select_label(get_language()).format(escape(str(obj)))
        return mark_safe(
            f'<input type="checkbox" name="{helpers.ACTION_CHECKBOX_NAME}" '
            f'value="{escape(obj.pk)}" class="action-select" aria-label="{label}">'
        )

    @admin.display(description=_("duration"), ordering="duration")
    def duration_display(self, run: TaskRun) -> str:
        return f"{run.duration_seconds:.2f} s" if run.duration_seconds is not None else "—"

    @admin.display(description=_("result"))
    def summary(self, run: TaskRun) -> str:
        """The one line, cut to the column's width by the change list's CSS; whole in its
        tooltip."""
        summary = run_summary(run)
        if not summary:
            return "—"
        text = escape(summary)
        return mark_safe(f'<span class="housekeeping-summary" title="{text}">{text}</span>')

    @admin.display(description=_("progress"))
    def progress_display(self, run: TaskRun) -> str:
        if run.progress_done is None:
            return "—"
        return f"{run.progress_done} / {run.progress_total if run.progress_total else '?'}"

    @admin.display(description=_("result"))
    def result_display(self, run: TaskRun) -> str:
        """The result laid out (a purge's per-model table, a statistics run's numbers, a group's
        members with links to their runs), the raw JSON behind a toggle."""
        if run.result is None:
            return "—"
        details = result_details(run)
        children = {child.task_name: child for child in run.children.order_by("started_at", "id")}
        members = [
            {
                **member,
                "url": self._change_url(children[member["task"]])
                if member["task"] in children
                else None,
            }
            for member in details["members"]
        ]
        return render_to_string(
            "admin/django_housekeeping/taskrun/result.html",
            {"details": details, "members": members, "raw_json": to_json(run.result, indent=2)},
        )

    @admin.display(description=_("member runs"))
    def member_runs(self, run: TaskRun) -> str:
        children = run.children.order_by("started_at", "id")
        return (
            format_html_join(
                mark_safe("<br>"),
                '<a href="{}">{}</a>',
                ((self._change_url(child), str(child)) for child in children),
            )
            or "—"
        )

    @admin.display(description=_("error"))
    def error_display(self, run: TaskRun) -> str:
        return format_html("<pre>{}</pre>", run.error) if run.error else "—"

    # Running: every run is dispatched (it never executes in the request); a real run of a task
    # that deletes is first dry-run and confirmed, like Django's delete_selected.

    @admin.action(description=_("Run again now"), permissions=["run"])
    def run_again(self, request: HttpRequest, queryset: QuerySet[TaskRun]) -> HttpResponse | None:
        return self._start(request, self._task_names(queryset), dry_run=False)

    @admin.action(description=_("Dry run now"), permissions=["run"])
    def dry_run_now(self, request: HttpRequest, queryset: QuerySet[TaskRun]) -> HttpResponse | None:
        return self._start(request, self._task_names(queryset), dry_run=True)

    @staticmethod
    def _task_names(queryset: QuerySet[TaskRun]) -> list[str]:
        return list(queryset.order_by("task_name").values_list("task_name", flat=True).distinct())

    def _start(
        self, request: HttpRequest, names: list[str], *, dry_run: bool
    ) -> HttpResponse | None:
        """Dispatch runs of ``names``; a real run of a task that may delete is dry-run first and
        the person is sent to the confirmation page. ``None``: back where they came from."""
        actor = _actor(request)
        previews: list[TaskRun] = []
        for name in names:
            preview = not dry_run and name in registry and registry.is_destructive(name)
            try:
                (dispatched,) = control.trigger(actor, [name], dry_run=dry_run or preview)
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

    def _change_url(self, run: TaskRun) -> str:
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_taskrun_change",
            args=[run.pk],
            current_app=self.admin_site.name,
        )

    def _confirm_url(self, previews: list[TaskRun], state: str = "") -> str:
        url = reverse(
            f"{self.admin_site.name}:django_housekeeping_confirm",
            current_app=self.admin_site.name,
        )
        query = {"runs": ",".join(str(run.pk) for run in previews)}
        return f"{url}?{urlencode({**query, 'state': state} if state else query, safe=',')}"

    def get_urls(self) -> list[URLPattern]:
        return [
            path(
                "tasks/",
                self.admin_site.admin_view(self.tasks_view),
                name="django_housekeeping_tasks",
            ),
            path(
                "tasks/run/",
                self.admin_site.admin_view(require_POST(self.run_view)),
                name="django_housekeeping_run",
            ),
            path(
                "tasks/confirm/",
                self.admin_site.admin_view(self.confirm_view),
                name="django_housekeeping_confirm",
            ),
            path(
                "<str:pk>/cancel/",
                self.admin_site.admin_view(functools.partial(admin_cancel.cancel_view, self)),
                name="django_housekeeping_taskrun_cancel",
            ),
            path(
                "tasks/pause/",
                self.admin_site.admin_view(require_POST(self.pause_view)),
                name="django_housekeeping_pause",
            ),
            path(
                "retention-policies/",
                self.admin_site.admin_view(self.policies_view),
                name="django_housekeeping_policies",
            ),
            path(
                "retention-policies/preview/",
                self.admin_site.admin_view(require_POST(self.preview_view)),
                name="django_housekeeping_policy_preview",
            ),
            path(
                "retention-policies/preview/<str:pk>/",
                self.admin_site.admin_view(self.preview_result_view),
                name="django_housekeeping_policy_preview_result",
            ),
            *super().get_urls(),
        ]

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

    def _tasks_url(self) -> str:
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_tasks",
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
        changes = admin_states.changes_of(token) if token else None
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
                admin_states.apply_confirmed(request, _actor(request), changes)
                return HttpResponseRedirect(self._tasks_url())
            for preview in previews:
                try:
                    (dispatched,) = control.trigger(_actor(request), [preview.task_name])
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
            "state_changes": admin_states.describe(changes or []),
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

    # Retention policies: their windows, rows due and previews (docs/retention.md#preview).

    def _policies_url(self) -> str:
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_policies",
            current_app=self.admin_site.name,
        )

    def policies_view(self, request: HttpRequest) -> HttpResponse:
        """Every retention policy: windows in effect, rows due now, held rows, last and next
        run, and a Preview button (a dry run, started outside the request)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": _("Retention policies"),
            "opts": self.opts,
            "can_run": self.has_run_permission(request),
            "policies": policies_payload(self._change_url_of),
        }
        return TemplateResponse(request, "admin/django_housekeeping/policies.html", context)

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The Preview button: a dry run of the policy through the control layer (permission
        ``run_task``, throttle, dispatched outside the request), then its page."""
        name = request.POST.get("policy", "")
        if name not in {task.name for task, _policy in policies()}:
            messages.error(request, _("No retention policy is called %(name)r.") % {"name": name})
            return HttpResponseRedirect(self._policies_url())
        try:
            (dispatched,) = control.trigger(_actor(request), [name], dry_run=True)
        except control.Forbidden as exc:
            raise PermissionDenied(exc.message) from None
        except control.ControlError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(self._policies_url())
        return HttpResponseRedirect(
            reverse(
                f"{self.admin_site.name}:django_housekeeping_policy_preview_result",
                args=[dispatched.run.pk],
                current_app=self.admin_site.name,
            )
        )

    def preview_result_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        """What a policy's dry run found: rows per model, cutoffs, delete receivers."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = find_run(pk)
        if run is None or not run.dry_run:
            messages.error(request, _("That run is no preview of a retention policy."))
            return HttpResponseRedirect(self._policies_url())
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": _("Preview of %(name)s") % {"name": run.task_name},
            "opts": self.opts,
            "run": run,
            "preview": preview_payload(run, self._change_url_of),
            "refresh_seconds": CONFIRM_REFRESH_SECONDS,
        }
        return TemplateResponse(request, "admin/django_housekeeping/policy_preview.html", context)

    def _change_url_of(self, pk: int) -> str:
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_taskrun_change",
            args=[pk],
            current_app=self.admin_site.name,
        )

    def pause_view(self, request: HttpRequest) -> HttpResponse:
        """Pause (``paused=1``) or resume (``paused=0``) a task, through the control layer."""
        if not self.has_pause_permission(request):
            raise PermissionDenied
        try:
            change = admin_states.set_state_or_ask(
                request,
                _actor(request),
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
        confirm = admin_states.confirmation_redirect(request, self.admin_site.name)
        return confirm or HttpResponseRedirect(self._tasks_url())


# the operators' overrides --------------------------------------------------------------------


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
class TaskStateAdmin(admin_states.ConfirmingStateAdmin):
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
        actor = _actor(request)
        return control.allowed(actor, control.VIEW) or control.allowed(actor, control.CHANGE)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return control.allowed(_actor(request), control.CHANGE)

    def has_change_permission(self, request: HttpRequest, obj: TaskState | None = None) -> bool:
        return control.allowed(_actor(request), control.CHANGE)

    def has_delete_permission(self, request: HttpRequest, obj: TaskState | None = None) -> bool:
        return control.allowed(_actor(request), control.CHANGE)

    @admin.action(description=_("Pause the selected tasks"), permissions=["change"])
    def pause(self, request: HttpRequest, queryset: QuerySet[TaskState]) -> None:
        self._set_paused(request, queryset, paused=True)

    @admin.action(description=_("Resume the selected tasks"), permissions=["start"])
    def resume(self, request: HttpRequest, queryset: QuerySet[TaskState]) -> HttpResponse | None:
        self._set_paused(request, queryset, paused=False)
        return admin_states.confirmation_redirect(request, self.admin_site.name)

    def _set_paused(
        self, request: HttpRequest, queryset: QuerySet[TaskState], *, paused: bool
    ) -> None:
        changes = []
        for name in queryset.values_list("task_name", flat=True):
            try:
                change = admin_states.set_state_or_ask(
                    request, _actor(request), name, paused=paused
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


# the scheduler's lease -----------------------------------------------------------------------


def format_age(age: timedelta) -> str:
    """``"45 s"``, ``"3 min 5 s"``, ``"2 h 10 min"``, ``"3 d 4 h"``."""
    seconds = max(int(age.total_seconds()), 0)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


@functools.lru_cache(maxsize=32)
def _select_label(language: str | None) -> str:
    """The aria-label of a row's checkbox, a ``str.format`` pattern, in ``language``."""
    return str(_("Select this object for an action - {}"))


def format_instant(value: datetime | None) -> str:
    """``"2026-01-02 03:04:05"`` in the current time zone; ``"—"`` for none."""
    if value is None:
        return "—"
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}"


@admin.register(SchedulerLease)
class SchedulerLeaseAdmin(ReadOnlyForViewers, SchedulerLeaseAdminBase):
    """Who leads the scheduler, read-only: the lease is the schedulers' business, not a form's."""

    list_display = fields = readonly_fields = (
        "name",
        "owner",
        "host",
        "pid",
        "token",
        "acquired",
        "heartbeat",
        "expires",
        "healthy",
        "lease_age",
    )

    # A lease lasts seconds: its times are shown to the second, not to the minute.

    @admin.display(description=_("acquired"), ordering="acquired_at")
    def acquired(self, lease: SchedulerLease) -> str:
        return format_instant(lease.acquired_at)

    @admin.display(description=_("last heartbeat"), ordering="heartbeat_at")
    def heartbeat(self, lease: SchedulerLease) -> str:
        return format_instant(lease.heartbeat_at)

    @admin.display(description=_("expires"), ordering="expires_at")
    def expires(self, lease: SchedulerLease) -> str:
        """When, and ``"expires in 25 s"`` or ``"expired 3 min 5 s ago"``."""
        left = lease.expires_at - timezone.now()
        if left > timedelta(0):
            relative = _("expires in %(age)s") % {"age": format_age(left)}
        else:
            relative = _("expired %(age)s ago") % {"age": format_age(-left)}
        return f"{format_instant(lease.expires_at)} ({relative})"

    @admin.display(description=_("healthy"), boolean=True)
    def healthy(self, lease: SchedulerLease) -> bool:
        """Held by a scheduler whose lease has not expired."""
        return bool(lease.owner) and lease.expires_at > timezone.now()

    @admin.display(description=_("lease age"))
    def lease_age(self, lease: SchedulerLease) -> str:
        """Time since the holder last renewed the lease."""
        heartbeat = lease.heartbeat_at or lease.acquired_at
        return format_age(timezone.now() - heartbeat) if heartbeat is not None else "—"


# alerts and run totals ----------------------------------------------------------------------------


@admin.register(TaskAlert)
class TaskAlertAdmin(ReadOnlyForViewers, TaskAlertAdminBase):
    """The alerts raised when tasks failed or were overdue, and when they were resolved."""

    list_display = ("task_name", "kind", "reason", "opened_at", "closed_at", "open")
    # An opened_at filter, no date_hierarchy: see TaskRunAdmin (MySQL's time zone tables).
    list_filter = ("kind", ("closed_at", admin.EmptyFieldListFilter), "opened_at", "task_name")
    search_fields = ("task_name", "reason")
    fields = readonly_fields = ("task_name", "kind", "reason", "run_link", "opened_at", "closed_at")

    @admin.display(description=_("open"), boolean=True)
    def open(self, alert: TaskAlert) -> bool:
        return alert.is_open

    @admin.display(description=_("run"))
    def run_link(self, alert: TaskAlert) -> str:
        if alert.run_id is None:
            return "—"
        url = reverse("admin:django_housekeeping_taskrun_change", args=[alert.run_id])
        return format_html('<a href="{}">#{}</a>', url, alert.run_id)


class InternalTable:
    """A table the library keeps for itself (the metrics' counters): reachable by its URL, left
    out of the admin's index, which lists what people work with."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(RunTotal)
class RunTotalAdmin(InternalTable, ReadOnlyForViewers, RunTotalAdminBase):
    """The counters the metrics read: finished non-dry runs per task and status."""

    list_display = fields = readonly_fields = ("task_name", "status", "runs", "seconds_display")
    list_filter = ("status",)
    ordering = ("task_name", "status")

    @admin.display(description=_("seconds"), ordering="seconds")
    def seconds_display(self, total: RunTotal) -> str:
        return f"{total.seconds:,.3f}"


@admin.register(DeletionTotal)
class DeletionTotalAdmin(InternalTable, ReadOnlyForViewers, DeletionTotalAdminBase):
    """The counters the metrics read: rows deleted per task and model."""

    list_display = fields = readonly_fields = ("task_name", "model", "rows")
    ordering = ("task_name", "model")


# the job store -------------------------------------------------------------------------------

for _model in (DjangoJob, DjangoJobExecution):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(DjangoJob)
class JobStoreAdmin(ReadOnlyForViewers, JobAdminBase):
    """django-apscheduler's job store, read-only: the scheduler's leader keeps it in line with the
    tasks, so nothing here may run, add or delete a job behind its back (pause, resume and
    reschedule tasks in *Task states*)."""

    list_display = fields = readonly_fields = ("id", "next_run_time", "schedule")
    ordering = ["id"]
    actions = None

    @admin.display(description=_("schedule"))
    def schedule(self, job: DjangoJob) -> str:
        task = registry.as_mapping().get(job.id)
        return describe_effective_schedule(task) if task is not None else "unknown task"


# legal holds and erasure requests --------------------------------------------------------------


def object_link(model: Any, pk: str, admin_site: admin.AdminSite = admin.site) -> str:
    """``app_label.Model pk``, linked to the row's admin page when the site has one."""
    text = f"{model._meta.label} {pk}" if model is not None else pk
    if model is None or not admin_site.is_registered(model):
        return text
    url = reverse(
        f"{admin_site.name}:{model._meta.app_label}_{model._meta.model_name}_change",
        args=[admin_quote(pk)],
    )
    return format_html('<a href="{}">{}</a>', url, text)


class HoldStateFilter(admin.SimpleListFilter):
    """Active holds (the ones purges obey), released ones, and the ones whose ``until`` passed."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("active", str(_("active"))),
            ("released", str(_("released"))),
            ("expired", str(_("expired (until passed)"))),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(released_at__isnull=True).exclude(until__lte=now)
        if self.value() == "released":
            return queryset.filter(released_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(released_at__isnull=True, until__lte=now)
        return queryset


@admin.register(LegalHold)
class LegalHoldAdmin(LegalHoldAdminBase):
    """The legal holds: listed, filtered, released; never added here (the rows' own admins have
    the "Place legal hold" action of :class:`LegalHoldAdminMixin`) and never deleted."""

    list_display = [
        "object_display",
        "reason",
        "placed_by",
        "placed_at",
        "until",
        "active_display",
        "released_at",
        "released_by",
    ]
    list_filter = [HoldStateFilter, "content_type", "placed_at"]
    list_select_related = ["content_type", "placed_by", "released_by"]
    search_fields = ["reason", "object_pk"]
    actions = ["release"]
    fields = (
        "object_display",
        "reason",
        "placed_by",
        "placed_at",
        "until",
        "active_display",
        "released_by",
        "released_at",
    )
    readonly_fields = fields

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: LegalHold | None = None) -> bool:
        actor = _actor(request)
        return control.allowed(actor, control.HOLD) or control.allowed(actor, control.VIEW)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: LegalHold | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: LegalHold | None = None) -> bool:
        return False  # holds are released, never deleted: the table is their history

    def has_release_permission(self, request: HttpRequest) -> bool:
        return control.allowed(_actor(request), control.HOLD)

    @admin.display(description=_("object"))
    def object_display(self, hold: LegalHold) -> str:
        return object_link(hold.content_type.model_class(), hold.object_pk, self.admin_site)

    @admin.display(description=_("active"), boolean=True)
    def active_display(self, hold: LegalHold) -> bool:
        return hold.is_active()

    @admin.action(description=_("Release the selected legal holds"), permissions=["release"])
    def release(self, request: HttpRequest, queryset: QuerySet[LegalHold]) -> None:
        try:
            released = control.release_holds(_actor(request), queryset)
        except control.ControlError as exc:
            raise PermissionDenied(exc.message) from None
        if released:
            messages.success(
                request,
                ngettext(
                    "Released %(count)d legal hold: the next purge may delete its row.",
                    "Released %(count)d legal holds: the next purge may delete their rows.",
                    released,
                )
                % {"count": released},
            )
        else:
            messages.info(request, _("Nothing to release: those holds were released already."))


@admin.register(ErasureRecord)
class ErasureRecordAdmin(ErasureRecordAdminBase):
    """The erasure records, read-only: what was erased, how many rows, who asked and why."""

    list_display = [
        "requested_at",
        "model",
        "object_pk",
        "status",
        "dry_run",
        "requested_by",
        "total",
        "reason",
    ]
    list_filter = ["status", "dry_run", "model", "requested_at"]
    list_select_related = ["requested_by"]
    search_fields = ["model", "object_pk", "reason"]
    fields = (
        "model",
        "object_pk",
        "status",
        "dry_run",
        "reason",
        "requested_by",
        "requested_at",
        "finished_at",
        "deleted_display",
        "protected",
        "held",
        "error",
    )
    readonly_fields = fields

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: ErasureRecord | None = None) -> bool:
        return control.may_see_erasures(_actor(request))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ErasureRecord | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: ErasureRecord | None = None) -> bool:
        return False

    @admin.display(description=_("rows"))
    def total(self, record: ErasureRecord) -> int:
        return sum(count for count in (record.deleted or {}).values() if isinstance(count, int))

    @admin.display(description=_("rows deleted"))
    def deleted_display(self, record: ErasureRecord) -> str:
        rows = sorted((record.deleted or {}).items())
        if not rows:
            return "—"
        return format_html_join(mark_safe("<br>"), "{}: {}", rows)


class PlaceHoldForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Why these rows must not be deleted (a dispute, a court order, a case)."),
    )
    until = forms.DateTimeField(
        label=_("Until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Optional: the hold ends by itself then. Empty: until it is released."),
    )

    def clean_until(self) -> datetime | None:
        until: datetime | None = self.cleaned_data.get("until")
        if until is not None and until <= timezone.now():
            raise ValidationError(_("This time has passed: such a hold would hold nothing."))
        return until


class EraseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("The erasure request (kept in the erasure record, with who and when)."),
    )


# The erasure confirmation page dry-runs each selected row: at most this many at once.
MAX_ERASE_ROWS = 20


class LegalHoldAdminMixin:
    """Give a ``ModelAdmin`` the actions "Place legal hold" and "Erase (erasure request)".

    ::

        from django_housekeeping.admin import LegalHoldAdminMixin

        @admin.register(Conversation)
        class ConversationAdmin(LegalHoldAdminMixin, admin.ModelAdmin):
            ...

    Each asks on an intermediate page first (the hold's reason and optional end; the erasure's
    blast radius, from a dry run, and its reason), and is offered only to whoever the control
    layer allows: ``django_housekeeping.change_legalhold`` to place holds,
    ``django_housekeeping.add_erasurerecord`` to erase.
    """

    admin_site: admin.AdminSite
    model: Any
    opts: Any

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Django 6.1 passes where the actions show (``action_location``: the change list or the
        # change form) and wants the parameter in the signature; earlier versions pass nothing.
        # ``get_action()`` makes each entry in the shape of the running version.
        where = () if action_location is None else (action_location,)
        actions: dict[str, Any] = super().get_actions(request, *where)  # type: ignore[misc]
        # No actions at all (``actions = None``) or a popup: none of ours either.
        if getattr(self, "actions", ()) is None or IS_POPUP_VAR in request.GET:
            return actions
        actor = _actor(request)
        offered = {
            "place_legal_hold": control.allowed(actor, control.HOLD),
            # Not on a model no erasure may touch (docs/retention.md#erasure-scope).
            "erase_objects": control.may_erase(actor, self.model),
        }
        for name, allowed in offered.items():
            if allowed:
                entry = self.get_action(name, *where)  # type: ignore[attr-defined]
                if entry is not None:  # None: not offered at this location (the change form)
                    actions[name] = entry
        return actions

    def _action_context(self, request: HttpRequest, queryset: QuerySet[Any]) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "queryset": queryset,
            "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }

    @admin.action(description=_("Place legal hold on the selected %(verbose_name_plural)s"))
    def place_legal_hold(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        """Ask for the reason (and an optional end), then hold every selected row."""
        actor = _actor(request)
        if not control.allowed(actor, control.HOLD):
            raise PermissionDenied(control.denial_message(control.HOLD))
        form = PlaceHoldForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_bound and form.is_valid():
            placed = 0
            for obj in queryset:
                try:
                    control.place_hold(
                        actor,
                        obj,
                        reason=form.cleaned_data["reason"],
                        until=form.cleaned_data["until"],
                    )
                except control.ControlError as exc:
                    messages.error(request, exc.message)
                else:
                    placed += 1
            if placed:
                messages.success(
                    request,
                    ngettext(
                        "Placed a legal hold on %(count)d row: no purge deletes it until the "
                        "hold is released.",
                        "Placed legal holds on %(count)d rows: no purge deletes them until "
                        "the holds are released.",
                        placed,
                    )
                    % {"count": placed},
                )
            return None
        request.current_app = self.admin_site.name
        context = {
            **self._action_context(request, queryset),
            "title": _("Place a legal hold"),
            "form": form,
        }
        return TemplateResponse(request, "admin/django_housekeeping/place_hold.html", context)

    @admin.action(description=_("Erase the selected %(verbose_name_plural)s (erasure request)"))
    def erase_objects(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        """Show what erasing the selected rows deletes (a dry run each), ask for the reason,
        then erase them one by one (a held row is refused, nothing of it deleted)."""
        actor = _actor(request)
        if not control.allowed(actor, control.ERASE):
            raise PermissionDenied(control.denial_message(control.ERASE))
        try:
            control.erasable_model(self.opts.label)
        except control.ControlError as exc:
            raise PermissionDenied(exc.message) from None
        rows = list(queryset.order_by("pk")[: MAX_ERASE_ROWS + 1])
        if len(rows) > MAX_ERASE_ROWS:
            messages.error(
                request,
                _("Select at most %(count)d rows to erase at once.") % {"count": MAX_ERASE_ROWS},
            )
            return None
        form = EraseForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_bound and form.is_valid():
            for obj in rows:
                try:
                    record = control.erase(
                        actor,
                        obj._meta.label,
                        str(obj.pk),
                        reason=form.cleaned_data["reason"],
                    )
                except control.ControlError as exc:
                    messages.error(request, exc.message)
                    continue
                total = sum(record.deleted.values())
                if record.status == ErasureRecord.Status.PROTECTED:
                    messages.warning(
                        request,
                        _("%(object)s was kept: a protected relation forbids deleting it.")
                        % {"object": f"{record.model} {record.object_pk}"},
                    )
                else:
                    messages.success(
                        request,
                        _("Erased %(object)s: %(total)d rows deleted (erasure record #%(id)d).")
                        % {
                            "object": f"{record.model} {record.object_pk}",
                            "total": total,
                            "id": record.pk,
                        },
                    )
            return None
        previews = []
        for obj in rows:
            preview = control.preview_erasure(actor, obj)
            previews.append(
                {
                    "object": obj,
                    "preview": preview,
                    "counts": sorted(preview.deleted.items()),
                    "total": sum(preview.deleted.values()),
                }
            )
        request.current_app = self.admin_site.name
        context = {
            **self._action_context(request, queryset),
            "title": _("Erase: are you sure?"),
            "form": form,
            "previews": previews,
            "blocked": any(item["preview"].held_rows for item in previews),
        }
        return TemplateResponse(request, "admin/django_housekeeping/confirm_erase.html", context)

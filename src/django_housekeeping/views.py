"""The staff dashboard: one page, and the JSON it refreshes itself from.

Plain Django (no REST framework needed): session authentication, CSRF on the one POST, staff
only. Seeing the page needs ``is_staff``; running tasks from it also needs the
``django_housekeeping.run_task`` permission, as in the admin.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.admin.views.decorators import staff_member_required
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from django_housekeeping.models import TaskRun
from django_housekeeping.payloads import (
    DEFAULT_STATISTICS_DAYS,
    DEFAULT_STATISTICS_TASK,
    MAX_STATISTICS_DAYS,
    find_run,
    run_detail_payload,
    run_payload,
    statistics_payload,
    tasks_payload,
)
from django_housekeeping.registry import NotRegistered, registry
from django_housekeeping.runner import AlreadyRunning, start_runs
from django_housekeeping.status import scheduler_status

RUN_PERMISSION = "django_housekeeping.run_task"
REFRESH_SECONDS = 30
RECENT_RUNS = 20
DAY_CHOICES = (7, 30, 90)

View = Callable[..., HttpResponse]


def _json(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, encoder=DjangoJSONEncoder, safe=False)


def staff_json(view: View) -> View:
    """For the JSON endpoints: 403 with a message (not a redirect) for anyone but staff."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        user = request.user
        if not user.is_authenticated:
            return _json({"detail": "Log in again: your session has ended."}, status=403)
        if not (user.is_active and user.is_staff):
            return _json({"detail": "The dashboard is for staff only."}, status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _run_url(request: HttpRequest) -> Callable[[int], str]:
    namespace = request.resolver_match.namespace if request.resolver_match else ""
    name = f"{namespace}:run" if namespace else "run"
    return lambda pk: reverse(name, args=[pk])


def _statistics_query(request: HttpRequest) -> tuple[str, int]:
    task = request.GET.get("task") or DEFAULT_STATISTICS_TASK
    try:
        days = int(request.GET.get("days", DEFAULT_STATISTICS_DAYS))
    except ValueError:
        days = DEFAULT_STATISTICS_DAYS
    return task, min(max(days, 1), MAX_STATISTICS_DAYS)


def dashboard_data(request: HttpRequest) -> dict[str, Any]:
    """Everything the page shows: scheduler, tasks, statistics, recent and running runs."""
    run_url = _run_url(request)
    task, days = _statistics_query(request)
    status = scheduler_status()
    del status["jobs"]  # the tasks below carry them, with their last runs
    try:
        statistics: dict[str, Any] = statistics_payload(task, days)
    except NotRegistered as exc:
        statistics = {"task": task, "days": days, "error": str(exc)}
    recent = TaskRun.objects.select_related("triggered_by").order_by("-started_at", "-id")
    running = recent.filter(status=TaskRun.Status.RUNNING)
    return {
        "now": timezone.now(),
        "scheduler": status,
        "tasks": tasks_payload(run_url),
        "statistics": statistics,
        "runs": [run_payload(run, run_url) for run in recent[:RECENT_RUNS]],
        "running": [run_payload(run, run_url) for run in running[:RECENT_RUNS]],
    }


def _admin_run_url() -> str | None:
    """The admin page of run 0 (the script puts the id in), if the admin shows runs."""
    try:
        return reverse("admin:django_housekeeping_taskrun_change", args=[0])
    except NoReverseMatch:
        return None


@staff_member_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    namespace = request.resolver_match.namespace if request.resolver_match else ""
    prefix = f"{namespace}:" if namespace else ""
    task, days = _statistics_query(request)
    config = {
        "urls": {
            "data": reverse(f"{prefix}data"),
            "trigger": reverse(f"{prefix}trigger"),
            "run": reverse(f"{prefix}run", args=[0]),
            "adminRun": _admin_run_url(),
        },
        "canRun": request.user.has_perm(RUN_PERMISSION),
        "statisticsTask": task,
        "days": days,
        "dayChoices": DAY_CHOICES,
        "refreshSeconds": REFRESH_SECONDS,
    }
    context = {
        "config": config,
        "data": dashboard_data(request),  # json_script encodes it with DjangoJSONEncoder
        "title": "Housekeeping",
    }
    return render(request, "django_housekeeping/dashboard.html", context)


@staff_json
@require_GET
def data(request: HttpRequest) -> HttpResponse:
    return _json(dashboard_data(request))


@staff_json
@require_GET
def run(request: HttpRequest, pk: int) -> HttpResponse:
    found = find_run(pk)
    if found is None:
        return _json({"detail": f"No run has the id {pk}."}, status=404)
    return _json(run_detail_payload(found, _run_url(request)))


@transaction.non_atomic_requests  # the runs start when their rows are committed
@staff_json
@require_POST
def trigger(request: HttpRequest) -> HttpResponse:
    """Start runs: ``{"task": NAME | [NAMES], "dry_run": bool}`` as JSON; 202 with the runs."""
    if not request.user.has_perm(RUN_PERMISSION):
        return _json({"detail": "You may not run housekeeping tasks."}, status=403)
    valid = ", ".join(registry.names())
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        return _json({"detail": "The body must be a JSON object."}, status=400)
    names = body.get("task") if isinstance(body, dict) else None
    if isinstance(names, str):
        names = [names]
    if not (isinstance(names, list) and names and all(isinstance(name, str) for name in names)):
        return _json({"detail": f"Say which task to run; valid tasks: {valid}."}, status=400)
    dry_run = body.get("dry_run", False)
    if not isinstance(dry_run, bool):
        return _json({"detail": "dry_run must be true or false."}, status=400)
    unknown = [name for name in names if name not in registry]
    if unknown:
        return _json(
            {"detail": f"Unknown task {', '.join(map(repr, unknown))}; valid tasks: {valid}."},
            status=400,
        )
    run_url = _run_url(request)
    try:
        dispatched = start_runs(
            names, dry_run=dry_run, trigger=TaskRun.Trigger.DASHBOARD, user=request.user
        )
    except AlreadyRunning as exc:
        return _json(
            {"detail": str(exc), "running_run": run_payload(exc.running, run_url)}, status=409
        )
    return _json({"runs": [run_payload(item.run, run_url) for item in dispatched]}, status=202)

"""The staff dashboard: one page, and the JSON it refreshes itself from.

Plain Django (no REST framework needed): session authentication, CSRF on the one POST. Who may
see it and run tasks from it is the control layer's decision, as on every face
(``django_housekeeping.view_taskrun`` to see, ``django_housekeeping.run_task`` to run). Every URL
under it but the page itself answers in JSON, errors included.

It answers with the presenters' payloads (:mod:`django_housekeeping.presenters`), the same the
API serves and its serializers declare: a run, a task, a policy, the statistics, the scheduler and
the answers of trigger and cancel have one shape, whichever face serves them, and the same JSON
text (:class:`~django_housekeeping.presenters.encoding.PayloadEncoder` writes date-times as the
API does).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.html import json_script
from django.views.decorators.csrf import csrf_exempt

from django_housekeeping.bodies import BodyError, read_json_body
from django_housekeeping.models import TaskRun
from django_housekeeping.monitoring.health import health
from django_housekeeping.presenters.encoding import PayloadEncoder
from django_housekeeping.presenters.policies import policies_payload
from django_housekeeping.presenters.runs import (
    cancel_payload,
    conflict_payload,
    find_run,
    run_detail_payload,
    run_payload,
    trigger_payload,
)
from django_housekeeping.presenters.scheduler import scheduler_payload
from django_housekeeping.presenters.statistics import (
    DEFAULT_STATISTICS_DAYS,
    MAX_STATISTICS_DAYS,
    statistics_payload,
)
from django_housekeeping.presenters.tasks import tasks_payload
from django_housekeeping.running import control

REFRESH_SECONDS = 30
RECENT_RUNS = 20
DAY_CHOICES = (7, 30, 90)

View = Callable[..., HttpResponse]


def _json(data: Any, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, encoder=PayloadEncoder, safe=False)


def _actor(request: HttpRequest) -> control.Actor:
    return control.person(request.user, TaskRun.Trigger.DASHBOARD)


CSRF_MIDDLEWARE = "django.middleware.csrf.CsrfViewMiddleware"
CSRF_FAILED = (
    "CSRF verification failed: send the value of the CSRF cookie in an X-CSRFToken header (the "
    "dashboard's page does), or reload the page."
)


def _csrf_refused(request: HttpRequest, view: View, args: Any, kwargs: Any) -> bool:
    """Whether the project's CSRF middleware refuses this request: the check it would have made
    before the view (the views are exempt from it so that a refusal is JSON, not its HTML)."""
    if CSRF_MIDDLEWARE not in settings.MIDDLEWARE:
        return False
    middleware = CsrfViewMiddleware(lambda request: HttpResponse())
    return middleware.process_view(request, view, args, kwargs) is not None


def json_view(*methods: str, action: str = control.VIEW) -> Callable[[View], View]:
    """For the JSON endpoints: the allowed methods (405 otherwise), CSRF (403) and the control
    layer's permission check, every refusal as JSON with its status."""

    def decorator(view: View) -> View:
        @csrf_exempt
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = _json(
                    {"detail": f"Method {request.method} is not allowed here."}, status=405
                )
                response["Allow"] = ", ".join(methods)
                return response
            if _csrf_refused(request, view, args, kwargs):
                return _json({"detail": CSRF_FAILED}, status=403)
            try:
                control.require(_actor(request), action)
                return view(request, *args, **kwargs)
            except control.ControlError as exc:
                return _control_error(request, exc)

        return wrapper

    return decorator


def _control_error(request: HttpRequest, exc: control.ControlError) -> JsonResponse:
    if isinstance(exc, control.NotAuthenticated):
        return _json({"detail": "Log in again: your session has ended."}, status=401)
    if isinstance(exc, control.Conflict):
        return _json(conflict_payload(exc, _run_url(request)), status=exc.status)
    response = _json({"detail": exc.message}, status=exc.status)
    if isinstance(exc, control.Throttled):
        response["Retry-After"] = str(exc.retry_after)
    return response


def _run_url(request: HttpRequest) -> Callable[[int], str]:
    namespace = request.resolver_match.namespace if request.resolver_match else ""
    name = f"{namespace}:run" if namespace else "run"
    return lambda pk: reverse(name, args=[pk])


def _statistics_query(request: HttpRequest) -> tuple[str | None, int]:
    """The statistics task the page names (``None``: the configured one, if any) and the days."""
    task = request.GET.get("task") or None
    try:
        days = int(request.GET.get("days", DEFAULT_STATISTICS_DAYS))
    except ValueError:
        days = DEFAULT_STATISTICS_DAYS
    return task, min(max(days, 1), MAX_STATISTICS_DAYS)


def dashboard_data(request: HttpRequest) -> dict[str, Any]:
    """Everything the page shows: health, scheduler, tasks, retention policies, statistics,
    recent and running runs."""
    run_url = _run_url(request)
    task, days = _statistics_query(request)
    recent = TaskRun.objects.select_related("triggered_by").order_by("-started_at", "-id")
    running = recent.filter(status=TaskRun.Status.RUNNING)
    return {
        "now": timezone.now(),
        "health": health().as_dict(),
        # The tasks carry the scheduler's jobs, with their last runs.
        "scheduler": scheduler_payload(run_url, jobs=False),
        "tasks": tasks_payload(run_url),
        "policies": policies_payload(run_url),
        # A task the page names that has no statistics is said in ``warning``, not an error.
        "statistics": statistics_payload(task, days, strict=False),
        "runs": [run_payload(run, run_url) for run in recent[:RECENT_RUNS]],
        "running": [run_payload(run, run_url) for run in running[:RECENT_RUNS]],
    }


def _admin_run_url() -> str | None:
    """The admin page of run 0 (the script puts the id in), if the admin shows runs."""
    try:
        return reverse("admin:django_housekeeping_taskrun_change", args=[0])
    except NoReverseMatch:
        return None


@csrf_exempt  # it only reads (405 to any other method, in JSON)
def dashboard(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _json({"detail": f"Method {request.method} is not allowed here."}, status=405)
    actor = _actor(request)
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path(), _login_url())
    if not control.allowed(actor, control.VIEW):
        raise PermissionDenied(control.denial_message(control.VIEW))
    namespace = request.resolver_match.namespace if request.resolver_match else ""
    prefix = f"{namespace}:" if namespace else ""
    task, days = _statistics_query(request)
    config = {
        "urls": {
            "data": reverse(f"{prefix}data"),
            "trigger": reverse(f"{prefix}trigger"),
            "run": reverse(f"{prefix}run", args=[0]),
            "cancel": reverse(f"{prefix}cancel", args=[0]),
            "adminRun": _admin_run_url(),
        },
        "canRun": control.allowed(actor, control.RUN),
        "statisticsTask": task,
        "days": days,
        "dayChoices": DAY_CHOICES,
        "refreshSeconds": REFRESH_SECONDS,
    }
    context = {
        "config": config,
        "data": json_script(dashboard_data(request), "hk-data", encoder=PayloadEncoder),
        "title": "Housekeeping",
    }
    return render(request, "django_housekeeping/dashboard.html", context)


def _login_url() -> str:
    try:
        return reverse("admin:login")
    except NoReverseMatch:
        return str(settings.LOGIN_URL)


@json_view("GET", "HEAD")
def data(request: HttpRequest) -> HttpResponse:
    return _json(dashboard_data(request))


@json_view("GET", "HEAD")
def run(request: HttpRequest, pk: str) -> HttpResponse:
    found = find_run(pk)
    if found is None:
        return _json({"detail": f"No run has the id {pk!r}."}, status=404)
    return _json(run_detail_payload(found, _run_url(request)))


@transaction.non_atomic_requests  # the runs start when their rows are committed
@json_view("POST", action=control.RUN)
def trigger(request: HttpRequest) -> HttpResponse:
    """Start runs: ``{"task": NAME | [NAMES], "dry_run": bool}`` as JSON; 202 with the runs, as
    the API's trigger answers without ``?wait``."""
    try:
        body = read_json_body(request)
    except BodyError as exc:
        return _json({"detail": exc.message}, status=exc.status)
    dry_run = body.get("dry_run", False)
    dispatched = control.trigger(_actor(request), body.get("task"), dry_run=dry_run)
    names = control.task_names(body.get("task"))  # valid: the runs started
    runs = [item.run for item in dispatched]
    return _json(trigger_payload("accepted", names, dry_run, runs, _run_url(request)), status=202)


@json_view("POST", action=control.RUN)
def cancel(request: HttpRequest, pk: str) -> HttpResponse:
    """Cancel a run (the control layer's ``cancel``): 202 with the run; 409 when it has ended."""
    done = control.cancel(_actor(request), pk)
    return _json(cancel_payload(done, _run_url(request)), status=202)


@csrf_exempt  # it changes nothing: a 404 in JSON for every method
def not_found(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any other URL under the dashboard's prefix: a JSON 404, not the project's HTML page."""
    return _json({"detail": f"The dashboard has no {request.path_info!r}."}, status=404)

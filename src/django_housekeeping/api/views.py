"""The API's views: status, trigger, statistics, runs, tasks (and pause/resume), schema.

Authentication is the project's (``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``),
permissions are ``HOUSEKEEPING["API_PERMISSION_CLASSES"]`` (``IsAdminUser`` by default) and the
trigger's throttle rate is ``HOUSEKEEPING["TRIGGER_THROTTLE_RATE"]``: all read at request time,
so ``override_settings`` and per-deployment settings just work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from time import monotonic
from typing import Any

from django.http import HttpRequest
from django.urls import reverse
from django.utils.module_loading import import_string
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle, UserRateThrottle
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from django_housekeeping.api import serializers as api
from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import TaskRun, TaskState
from django_housekeeping.payloads import (
    find_run,
    run_detail_payload,
    run_payload,
    statistics_payload,
    tasks_payload,
)
from django_housekeeping.registry import NotRegistered, registry
from django_housekeeping.runner import AlreadyRunning, DispatchedRun, start_runs
from django_housekeeping.status import scheduler_status

APP_NAME = "django_housekeeping_api"

# -- policies ----------------------------------------------------------------------------------


class JSONOnlyNegotiation(BaseContentNegotiation):
    """The API speaks JSON whatever the client's Accept header says."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        for parser in parsers:
            if parser.media_type == request.content_type.split(";")[0].strip():
                return parser
        return None

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class TriggerThrottle(UserRateThrottle):
    """Per user (per address for anonymous requests): ``HOUSEKEEPING["TRIGGER_THROTTLE_RATE"]``;
    ``None`` turns it off."""

    scope = "housekeeping_trigger"

    def get_rate(self) -> str | None:
        rate = housekeeping_settings.TRIGGER_THROTTLE_RATE
        return str(rate) if rate else None


def _instances(classes: Sequence[Any]) -> list[Any]:
    """Instances of classes given as classes or dotted paths."""
    return [(import_string(cls) if isinstance(cls, str) else cls)() for cls in classes]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with every error as ``{"detail": "...", "errors": {...}}``."""
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.ValidationError):
        return response
    errors = (
        response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
    )
    errors = {field: _messages(messages) for field, messages in errors.items()}
    response.data = {
        "detail": "; ".join(
            message if field == "non_field_errors" else f"{field}: {message}"
            for field, messages in errors.items()
            for message in messages
        ),
        "errors": errors,
    }
    return response


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        return [message for item in value for message in _messages(item)]
    if isinstance(value, dict):
        return [f"{key}: {message}" for key, item in value.items() for message in _messages(item)]
    return [str(value)]


class HousekeepingAPIView(APIView):
    """The policies every view of the API shares."""

    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
    content_negotiation_class = JSONOnlyNegotiation
    schema = AutoSchema()
    extra_throttle_classes: tuple[type[BaseThrottle], ...] = ()

    def get_authenticators(self) -> list[BaseAuthentication]:
        return _instances(api_settings.DEFAULT_AUTHENTICATION_CLASSES)

    def get_permissions(self) -> list[BasePermission]:
        return _instances(housekeeping_settings.API_PERMISSION_CLASSES)

    def get_throttles(self) -> list[BaseThrottle]:
        return [
            *_instances(api_settings.DEFAULT_THROTTLE_CLASSES),
            *_instances(self.extra_throttle_classes),
        ]

    def get_authenticate_header(self, request: Request) -> str:
        """The challenge of the first authentication class that has one.

        DRF asks the first class only, and answers 403 instead of 401 when it has none (session
        authentication): a request without credentials gets 401 here whenever any configured
        class can say how to authenticate.
        """
        for authenticator in self.get_authenticators():
            header = authenticator.authenticate_header(request)
            if header:
                return str(header)
        return ""  # no challenge: DRF answers 403

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return exception_handler

    def run_url(self, pk: int) -> str:
        match = self.request.resolver_match
        namespace = match.namespace if match is not None and match.namespace else APP_NAME
        return self.request.build_absolute_uri(reverse(f"{namespace}:run-detail", args=[pk]))

    def validated_query(self, serializer_class: type[Serializer[Any]]) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


ERRORS = {
    401: OpenApiResponse(api.ErrorSerializer, description="No or invalid credentials."),
    403: OpenApiResponse(api.ErrorSerializer, description="Not allowed (not staff by default)."),
}
BAD_REQUEST = OpenApiResponse(
    api.ErrorSerializer, description="Invalid parameters; the message names the valid choices."
)
NOT_FOUND = OpenApiResponse(api.ErrorSerializer, description="No such resource.")


def document(**kwargs: Any) -> Callable[[Any], Any]:
    """``@extend_schema`` for a view's method, on drf-spectacular's AutoSchema.

    ``@extend_schema`` builds a method's schema on ``DEFAULT_SCHEMA_CLASS``, which a project need
    not have set to drf-spectacular's: the method names the base to use first.
    """

    def decorator(method: Any) -> Any:
        method.kwargs = {"schema": AutoSchema}
        return extend_schema(**kwargs)(method)

    return decorator


# -- views -------------------------------------------------------------------------------------


class StatusView(HousekeepingAPIView):
    @document(
        operation_id="status",
        summary="Scheduler status",
        description=(
            "Whether a scheduler leads (its host, pid and lease age, healthy or stale), every "
            "task's job with its next run and trigger, and the last run of each task."
        ),
        responses={
            200: OpenApiResponse(api.StatusSerializer, description="The scheduler and its jobs."),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        data = scheduler_status()
        last_ids = [job["last_run"]["id"] for job in data["jobs"] if job["last_run"]]
        runs = TaskRun.objects.select_related("triggered_by").in_bulk(last_ids)
        for job in data["jobs"]:
            if job["last_run"]:
                job["last_run"] = run_payload(runs[job["last_run"]["id"]], self.run_url)
        data["running"] = data["state"] == "running"
        return Response(api.StatusSerializer(data).data)


class TriggerView(HousekeepingAPIView):
    extra_throttle_classes = (TriggerThrottle,)

    @document(
        operation_id="trigger",
        summary="Run tasks",
        description=(
            "Starts a run of each task outside the request and answers 202 with the runs "
            "(follow them at their `url`). With `?wait=SECONDS`, waits for them: 200 with their "
            "results when they finished in time. 409 when a task is already running."
        ),
        request=api.TriggerSerializer,
        parameters=[api.TriggerQuerySerializer],
        responses={
            200: OpenApiResponse(api.TriggerResponseSerializer, description="The runs finished."),
            202: OpenApiResponse(api.TriggerResponseSerializer, description="The runs started."),
            400: BAD_REQUEST,
            **ERRORS,
            409: OpenApiResponse(api.ConflictSerializer, description="Already running."),
            415: OpenApiResponse(api.ErrorSerializer, description="The body is not JSON."),
            429: OpenApiResponse(api.ErrorSerializer, description="Too many triggers."),
        },
    )
    def post(self, request: Request) -> Response:
        query = self.validated_query(api.TriggerQuerySerializer)
        body = api.TriggerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        names: list[str] = body.validated_data["task"]
        dry_run: bool = body.validated_data["dry_run"]
        try:
            dispatched = start_runs(
                names, dry_run=dry_run, trigger=TaskRun.Trigger.API, user=request.user
            )
        except AlreadyRunning as exc:
            conflict = {
                "detail": str(exc),
                "task": exc.task_name,
                "running_run": run_payload(exc.running, self.run_url),
            }
            return Response(api.ConflictSerializer(conflict).data, status=status.HTTP_409_CONFLICT)
        finished = "wait" in query and _wait_all(dispatched, query["wait"])
        runs = [item.run for item in dispatched]
        data = {
            "status": _outcome(runs) if finished else "accepted",
            "tasks": names,
            "dry_run": dry_run,
            "runs": [run_payload(run, self.run_url) for run in runs],
            "results": {run.task_name: run.result for run in runs if run.is_finished},
        }
        return Response(
            api.TriggerResponseSerializer(data).data,
            status=status.HTTP_200_OK if finished else status.HTTP_202_ACCEPTED,
        )


def _wait_all(dispatched: list[DispatchedRun], timeout: float) -> bool:
    deadline = monotonic() + timeout
    finished = True
    for item in dispatched:
        finished = item.wait(max(deadline - monotonic(), 0)) and finished
    return finished


def _outcome(runs: list[TaskRun]) -> str:
    statuses = {str(run.status) for run in runs}
    for outcome in (TaskRun.Status.FAILED, TaskRun.Status.SKIPPED):
        if outcome in statuses:
            return str(outcome)
    return str(TaskRun.Status.SUCCEEDED)


class StatisticsView(HousekeepingAPIView):
    @document(
        operation_id="statistics",
        summary="Statistics",
        description=(
            "The numbers of the latest succeeded run of the statistics task (`?task=`, default "
            "`stats`) and their time series over the last `?days=` days."
        ),
        parameters=[api.StatisticsQuerySerializer],
        responses={
            200: OpenApiResponse(api.StatisticsSerializer, description="The statistics."),
            400: BAD_REQUEST,
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        query = self.validated_query(api.StatisticsQuerySerializer)
        try:
            data = statistics_payload(query["task"], query["days"])
        except NotRegistered as exc:
            raise exceptions.ValidationError({"task": [str(exc)]}) from None
        return Response(api.StatisticsSerializer(data).data)


class RunPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class RunListView(HousekeepingAPIView, ListAPIView):  # type: ignore[type-arg]
    serializer_class = api.RunSerializer
    pagination_class = RunPagination
    queryset = TaskRun.objects.none()  # for the schema; get_queryset() filters the real one

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "run_url": self.run_url}

    def get_queryset(self) -> Any:
        runs = TaskRun.objects.select_related("triggered_by").order_by("-started_at", "-id")
        filters = self.validated_query(api.RunFilterSerializer)
        if "task" in filters:
            runs = runs.filter(task_name=filters["task"])
        if "status" in filters:
            runs = runs.filter(status=filters["status"])
        if "trigger" in filters:
            runs = runs.filter(trigger=filters["trigger"])
        if "since" in filters:
            runs = runs.filter(started_at__gte=filters["since"])
        return runs

    @document(
        operation_id="runs_list",
        summary="Run history",
        description="Every run, newest first, paginated; filter by task, status, trigger, since.",
        parameters=[api.RunFilterSerializer],
        responses={
            200: OpenApiResponse(api.RunSerializer(many=True), description="A page of runs."),
            400: BAD_REQUEST,
            404: OpenApiResponse(api.ErrorSerializer, description="No such page."),
            **ERRORS,
        },
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class RunDetailView(HousekeepingAPIView):
    @document(
        operation_id="runs_retrieve",
        summary="One run",
        description=(
            "A run with its result, its live progress while running (`progress`, "
            "`heartbeat_at`) and the runs of a group's members."
        ),
        parameters=[
            OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Run id.")
        ],
        responses={
            200: OpenApiResponse(api.RunDetailSerializer, description="The run."),
            404: NOT_FOUND,
            **ERRORS,
        },
    )
    def get(self, request: Request, id: str) -> Response:
        run = find_run(id)
        if run is None:
            raise exceptions.NotFound(f"No run has the id {id!r}.")
        return Response(api.RunDetailSerializer(run_detail_payload(run, self.run_url)).data)


class TaskListView(HousekeepingAPIView):
    @document(
        operation_id="tasks_list",
        summary="Tasks",
        description=(
            "Every registered task and group: schedule, pause state, next and last run. "
            '`"all"` (every enabled task) is accepted by the trigger but is not listed.'
        ),
        responses={
            200: OpenApiResponse(api.TaskSerializer(many=True), description="Every task."),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        return Response(api.TaskSerializer(tasks_payload(self.run_url), many=True).data)


def set_paused(name: str, paused: bool) -> dict[str, Any]:
    """Pause or resume a task: its TaskState row says so, and the scheduler follows."""
    if name not in registry.as_mapping():
        raise exceptions.NotFound(str(NotRegistered(name, registry.as_mapping())))
    state = TaskState.objects.filter(task_name=name).first()
    changed = (state is None and paused) or (state is not None and state.paused != paused)
    if state is None and paused:
        TaskState.objects.create(task_name=name, paused=True)
    elif state is not None and changed:
        state.paused = paused
        state.save(update_fields=["paused", "updated_at"])
    if changed:
        verb = "Paused" if paused else "Resumed"
        detail = f"{verb} {name}. The scheduler picks this up within seconds."
    else:
        detail = f"Nothing to do: {name} was {'already' if paused else 'not'} paused."
    return {"task": name, "paused": paused, "changed": changed, "detail": detail}


TASK_NAME = OpenApiParameter(
    "name", OpenApiTypes.STR, OpenApiParameter.PATH, description="A task's name."
)
PAUSE_RESPONSES = {
    200: OpenApiResponse(api.TaskStateSerializer, description="What changed, if anything."),
    404: OpenApiResponse(api.ErrorSerializer, description="No such task (the message names them)."),
    **ERRORS,
}


class PauseView(HousekeepingAPIView):
    @document(
        operation_id="tasks_pause",
        summary="Pause a task",
        description="The scheduler stops scheduling the task (within seconds); runs by hand work.",
        parameters=[TASK_NAME],
        request=None,
        responses=PAUSE_RESPONSES,
    )
    def post(self, request: Request, name: str) -> Response:
        return Response(api.TaskStateSerializer(set_paused(name, True)).data)


class ResumeView(HousekeepingAPIView):
    @document(
        operation_id="tasks_resume",
        summary="Resume a task",
        description="The scheduler schedules the task again (within seconds).",
        parameters=[TASK_NAME],
        request=None,
        responses=PAUSE_RESPONSES,
    )
    def post(self, request: Request, name: str) -> Response:
        return Response(api.TaskStateSerializer(set_paused(name, False)).data)


@extend_schema(exclude=True)
class SchemaView(HousekeepingAPIView):
    """The OpenAPI 3 schema of this API, as mounted in this project."""

    def get(self, request: Request) -> Response:
        from django_housekeeping.api.schema import build_schema

        return Response(build_schema(request=request))


class NotFoundView(HousekeepingAPIView):
    """Any other URL under the API's prefix: 404 as JSON (after authentication)."""

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        raise exceptions.NotFound(f"The API has no {request.path_info!r}.")

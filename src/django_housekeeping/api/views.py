"""The API's views: status, trigger, statistics, runs, tasks (and pause/resume), schema.

Authentication is the project's (``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``). Every
request is checked against the housekeeping permissions by the control layer
(:mod:`django_housekeeping.running.control`), after ``HOUSEKEEPING["API_PERMISSION_CLASSES"]`` (our
:class:`~django_housekeeping.api.permissions.HousekeepingPermission` by default). Triggers,
pauses and resumes are the control layer's: it validates, throttles and dispatches; a view parses
and presents. Settings are read at request time, so ``override_settings`` just works.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from time import monotonic
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.module_loading import import_string
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.generics import ListAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.pagination import BasePagination
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.utils.urls import replace_query_param
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from django_housekeeping.api import serializers as api
from django_housekeeping.api.representation import represent
from django_housekeeping.bodies import MAX_BODY_BYTES, BodyError, parse_json, too_large
from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import ErasureRecord, TaskRun
from django_housekeeping.presenters import (
    MAX_PK,
    erasure_as_dict,
    find_run,
    policies_payload,
    run_detail_payload,
    run_payload,
    scheduler_status,
    statistics_payload,
    tasks_payload,
)
from django_housekeeping.running import control
from django_housekeeping.running.runner import DispatchedRun
from django_housekeeping.tasks.registry import NotRegistered

APP_NAME = "django_housekeeping_api"
# Stands for a run's id in its URL, reversed once a request (BaseView.run_url).
RUN_MARK = 9_876_543_210_123

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


class BoundedJSONParser(JSONParser):
    """JSON bodies up to :data:`~django_housekeeping.bodies.MAX_BODY_BYTES` and
    :data:`~django_housekeeping.bodies.MAX_DEPTH` levels, parsed like the dashboard's."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return parse_json(stream.read(MAX_BODY_BYTES + 1) if stream is not None else b"")
        except BodyError as exc:
            raise BodyRefused(exc) from None


class BodyRefused(exceptions.APIException):
    def __init__(self, error: BodyError) -> None:
        super().__init__(error.message)
        self.status_code = error.status


def _instances(classes: Sequence[Any]) -> list[Any]:
    """Instances of classes given as classes or dotted paths."""
    return [(import_string(cls) if isinstance(cls, str) else cls)() for cls in classes]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with every error as ``{"detail": "...", "errors": {...}}``, and the control
    layer's refusals with their status (409 with the running run, 429 with ``Retry-After``)."""
    if isinstance(exc, control.ControlError):
        return _control_response(exc, context)
    if isinstance(exc, RequestDataTooBig):  # DRF reads JSON bodies through request.body
        return Response({"detail": too_large().message}, status=too_large().status)
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


def _control_response(exc: control.ControlError, context: dict[str, Any]) -> Response:
    if isinstance(exc, control.Held):
        held = {
            "detail": exc.message,
            "held": exc.held_rows,
            "erasure": erasure_as_dict(exc.record) if exc.record is not None else None,
        }
        return Response(api.HeldSerializer(held).data, status=exc.status)
    if isinstance(exc, control.Conflict):
        view = context.get("view")
        run_url = view.run_url if isinstance(view, HousekeepingAPIView) else None
        conflict = {
            "detail": exc.message,
            "task": exc.task_name,
            "running_run": run_payload(exc.running, run_url),
        }
        return Response(api.ConflictSerializer(conflict).data, status=exc.status)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, control.Throttled) else None
    return Response({"detail": exc.message}, status=exc.status, headers=headers)


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        return [message for item in value for message in _messages(item)]
    if isinstance(value, dict):
        return [f"{key}: {message}" for key, item in value.items() for message in _messages(item)]
    return [str(value)]


class HousekeepingAPIView(APIView):
    """The policies every view of the API shares."""

    renderer_classes = [JSONRenderer]
    parser_classes = [BoundedJSONParser]
    content_negotiation_class = JSONOnlyNegotiation
    schema = AutoSchema()
    # What each HTTP method of the view does, in the control layer's terms.
    actions: Mapping[str, str] = {"GET": control.VIEW}

    def housekeeping_action(self, request: Request) -> str:
        return self.actions.get(request.method or "GET", control.VIEW)

    @property
    def actor(self) -> control.Actor:
        return control.person(self.request.user, TaskRun.Trigger.API)

    def get_authenticators(self) -> list[BaseAuthentication]:
        return _instances(api_settings.DEFAULT_AUTHENTICATION_CLASSES)

    def get_permissions(self) -> list[BasePermission]:
        return _instances(housekeeping_settings.API_PERMISSION_CLASSES)

    def check_permissions(self, request: Request) -> None:
        """The configured classes, then the housekeeping permissions whatever they said."""
        super().check_permissions(request)
        action = self.housekeeping_action(request)
        if not control.allowed(self.actor, action):
            self.permission_denied(request, message=control.denial_message(action))

    def get_throttles(self) -> list[BaseThrottle]:
        # The project's throttles; triggers are throttled by the control layer, on every face.
        return _instances(api_settings.DEFAULT_THROTTLE_CLASSES)

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
        prefix, suffix = self._run_url_around_pk
        return f"{prefix}{pk}{suffix}"

    @cached_property
    def _run_url_around_pk(self) -> tuple[str, str]:
        """A run's absolute URL before and after its id: reversed once a request, not once a
        run of a page."""
        match = self.request.resolver_match
        namespace = match.namespace if match is not None and match.namespace else APP_NAME
        url = self.request.build_absolute_uri(reverse(f"{namespace}:run-detail", args=[RUN_MARK]))
        prefix, _mark, suffix = url.rpartition(str(RUN_MARK))
        return prefix, suffix

    def validated_query(self, serializer_class: type[Serializer[Any]]) -> dict[str, Any]:
        """The query string, validated; a parameter given empty (``?task=``) is an error, not
        a parameter left out (DRF's reading of an HTML form)."""
        blank = {
            name: ["This parameter may not be empty."]
            for name, _field in serializer_class().fields.items()
            if self.request.query_params.get(name, None) == ""
        }
        if blank:
            raise exceptions.ValidationError(blank)
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


ERRORS = {
    401: OpenApiResponse(api.ErrorSerializer, description="No or invalid credentials."),
    403: OpenApiResponse(
        api.ErrorSerializer, description="Without the housekeeping permission this needs."
    ),
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
    actions = {"POST": control.RUN}

    @document(
        operation_id="trigger",
        summary="Run tasks",
        description=(
            "Starts a run of each task outside the request and answers 202 with the runs "
            "(`queued`; follow them at their `url`). With `?wait=SECONDS`, waits for them, at "
            'most `HOUSEKEEPING["MAX_WAIT"]` seconds (20 by default): 200 with their results '
            "when they finished in time, else 202. 409 when a task is already queued or running; "
            "429 when the caller started too many runs (`TRIGGER_THROTTLE_RATE`, counted on every "
            "face)."
        ),
        request=api.TriggerSerializer,
        parameters=[api.TriggerQuerySerializer],
        responses={
            200: OpenApiResponse(api.TriggerResponseSerializer, description="The runs finished."),
            202: OpenApiResponse(api.TriggerResponseSerializer, description="The runs started."),
            400: BAD_REQUEST,
            **ERRORS,
            409: OpenApiResponse(api.ConflictSerializer, description="Already running."),
            413: OpenApiResponse(api.ErrorSerializer, description="The body is too large."),
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
        dispatched = control.trigger(self.actor, names, dry_run=dry_run)
        wait = min(query["wait"], float(housekeeping_settings.MAX_WAIT)) if "wait" in query else 0
        finished = "wait" in query and _wait_all(dispatched, wait)
        if not finished:
            for item in dispatched:
                item.run.refresh_from_db()
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
            "The library's own numbers over the last `?days=` days (`housekeeping`: per task, its "
            "runs by status, the rows it deleted and the p50 and p95 of its durations; the rows "
            "deleted per day), and the site's statistics: the numbers of the latest succeeded "
            "run of its statistics task (`?task=`, else the setting "
            "`STATISTICS_TASK`) and their time series over the same days. Dry runs count "
            "nowhere. Without a statistics task, `task` is null and `statistics` and `series` "
            "are empty. The library's numbers come from a daily rollup kept as runs finish, so "
            "they cost the same however long the history; the window is therefore whole days "
            "(`since` is the first day's midnight)."
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
            data = statistics_payload(query.get("task"), query["days"])
        except NotRegistered as exc:
            raise exceptions.ValidationError({"task": [str(exc)]}) from None
        return Response(represent(api.StatisticsSerializer(), data))


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_MICROSECOND = timedelta(microseconds=1)


class RunPagination(BasePagination):
    """Pages of runs, newest first, by keyset: a page's ``next`` link carries where it ended (the
    last run's ``started_at`` and ``id``) and the next page is found through the history's index
    from there, so a page costs the same however long the history and however deep the page.
    Nothing counts the history (there is no ``count``).

    A cursor is ``n`` (older than) or ``p`` (newer than), then the start time in microseconds
    since 1970 (UTC) and the run's id: ``n1764518400123456.42``. One that does not have that
    form, a ``page_size`` that is no integer from 1 to 500, or a ``page`` (the page numbers of
    earlier versions) is a 400, and the schema says so."""

    # A page's rows are the one cost of the endpoint that grows with the page (each run laid out
    # for a person: its summary, its per-model table): 25 keeps a page within twice the cost of
    # an empty one (docs/benchmarks.md#a-long-history-history_scalepy); ask for up to 500.
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 500
    cursor_query_param = "cursor"
    cursor_pattern = r"^[np][0-9]{1,16}\.[0-9]{1,19}$"
    invalid_cursor_message = "Invalid cursor: use the next or previous link of a page."

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        if "page" in request.query_params:
            raise exceptions.ValidationError(
                {"page": ["Pages are not numbered: follow the next and previous links."]}
            )
        self.request = request
        size = self.get_page_size(request)
        cursor = self.decode_cursor(request)
        newer = cursor is not None and cursor[0] == "p"
        if cursor is None:
            rows = queryset.order_by("-started_at", "-id")
        else:
            _direction, started_at, pk = cursor
            # The first condition bounds the index range; the second only sorts out the runs
            # that started at that very instant.
            if newer:
                rows = queryset.filter(
                    Q(started_at__gte=started_at), Q(started_at__gt=started_at) | Q(id__gt=pk)
                ).order_by("started_at", "id")
            else:
                rows = queryset.filter(
                    Q(started_at__lte=started_at), Q(started_at__lt=started_at) | Q(id__lt=pk)
                ).order_by("-started_at", "-id")
        page = list(rows[: size + 1])
        more = len(page) > size
        page = page[:size]
        if newer:
            page.reverse()
        has_next = (not newer and more) or (newer and bool(page))
        has_previous = (newer and more) or (cursor is not None and not newer and bool(page))
        self.next_link = self.encode_cursor("n", page[-1]) if has_next else None
        self.previous_link = self.encode_cursor("p", page[0]) if has_previous else None
        return page

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise exceptions.ValidationError(
                {"page_size": [f"Must be an integer from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def decode_cursor(self, request: Request) -> tuple[str, datetime, int] | None:
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        if not re.fullmatch(self.cursor_pattern, raw):
            raise exceptions.ValidationError(
                {self.cursor_query_param: [self.invalid_cursor_message]}
            )
        micros, pk = raw[1:].split(".")
        started_at = EPOCH + int(micros) * ONE_MICROSECOND
        if not settings.USE_TZ:
            started_at = timezone.make_naive(started_at, UTC)
        return raw[0], started_at, min(int(pk), MAX_PK)

    def encode_cursor(self, direction: str, run: TaskRun) -> str:
        started_at = run.started_at
        if timezone.is_naive(started_at):
            started_at = timezone.make_aware(started_at, UTC)
        micros = (started_at - EPOCH) // ONE_MICROSECOND
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, f"{direction}{micros}.{run.pk}")

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.next_link, "previous": self.previous_link, "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The page of older runs; null at the end."},
                "previous": {**link, "description": "The page of newer runs; null at the start."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Where the page starts: the `cursor` of a page's `next` or `previous` link."
                ),
                "schema": {"type": "string", "pattern": self.cursor_pattern},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Runs per page ({self.page_size} by default).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]


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
        description=(
            "Every run, newest first, a page at a time; filter by task, status, trigger, since. "
            "Pages are reached by cursor: follow `next` (older runs) and `previous` (newer "
            "ones), null at either end. A page costs the same however long the history and "
            "however deep the page; the history is not counted (no `count`). A `cursor` that is "
            "not one of those links' is a 400, and so is `page` (earlier versions numbered "
            "their pages)."
        ),
        parameters=[api.RunFilterSerializer],
        responses={
            200: OpenApiResponse(api.RunSerializer(many=True), description="A page of runs."),
            400: BAD_REQUEST,
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


class PolicyListView(HousekeepingAPIView):
    @document(
        operation_id="policies_list",
        summary="Retention policies",
        description=(
            "Every retention policy (`retention()`): its windows in effect (settings applied) "
            "with their cutoffs now, the rows due now (counted up to 10,000: `capped` says "
            "there are more), the rows due that a legal hold names, its schedule, "
            "next run, latest real run and latest dry run (`preview`: the rows per model it "
            "would delete, cascades included, and the delete receivers that would run). Start "
            "a preview with `POST trigger` and `dry_run: true`. Reading this deletes nothing."
        ),
        responses={
            200: OpenApiResponse(api.PolicySerializer(many=True), description="Every policy."),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        return Response(api.PolicySerializer(policies_payload(self.run_url), many=True).data)


def _state_change(actor: control.Actor, name: str, paused: bool) -> dict[str, Any]:
    """Pause or resume through the control layer; an unknown name in the URL is a 404.
    Resuming needs ``run_task`` too; the API has no confirmation step: calling it is the
    caller's confirmation (docs/api.md)."""
    try:
        change = control.set_state(actor, name, paused=paused, confirmed=True)
    except control.UnknownTask as exc:
        raise exceptions.NotFound(exc.message) from None
    return {
        "task": change.task,
        "paused": change.paused,
        "changed": change.changed,
        "detail": change.detail,
    }


TASK_NAME = OpenApiParameter(
    "name", OpenApiTypes.STR, OpenApiParameter.PATH, description="A task's name."
)
PAUSE_RESPONSES = {
    200: OpenApiResponse(api.TaskStateSerializer, description="What changed, if anything."),
    404: OpenApiResponse(api.ErrorSerializer, description="No such task (the message names them)."),
    **ERRORS,
}


class PauseView(HousekeepingAPIView):
    actions = {"POST": control.CHANGE}

    @document(
        operation_id="tasks_pause",
        summary="Pause a task",
        description="The scheduler stops scheduling the task (within seconds); runs by hand work.",
        parameters=[TASK_NAME],
        request=None,
        responses=PAUSE_RESPONSES,
    )
    def post(self, request: Request, name: str) -> Response:
        return Response(api.TaskStateSerializer(_state_change(self.actor, name, True)).data)


class ResumeView(HousekeepingAPIView):
    actions = {"POST": control.CHANGE}

    @document(
        operation_id="tasks_resume",
        summary="Resume a task",
        description=(
            "The scheduler schedules the task again (within seconds). Resuming starts the "
            "task's work: it needs `django_housekeeping.run_task` besides "
            "`django_housekeeping.change_taskstate` (403 otherwise, nothing changed); the call "
            "is the confirmation (no dry-run step), and it is recorded (who, when, before → "
            "after) as the Task states admin shows."
        ),
        parameters=[TASK_NAME],
        request=None,
        responses=PAUSE_RESPONSES,
    )
    def post(self, request: Request, name: str) -> Response:
        return Response(api.TaskStateSerializer(_state_change(self.actor, name, False)).data)


class ErasureView(HousekeepingAPIView):
    """``POST``: carry out an erasure request; ``GET``: the erasure records, newest first."""

    actions = {"POST": control.ERASE}

    def housekeeping_action(self, request: Request) -> str:
        if request.method == "POST":
            return control.ERASE
        # The records: whoever may see the history, or may erase.
        return control.VIEW if control.allowed(self.actor, control.VIEW) else control.ERASE

    @document(
        operation_id="erasures_list",
        summary="Erasure records",
        description=(
            "The erasure records, newest first: model, primary key, status, rows per model, "
            "who, when and why (no field value of the erased rows). For holders of "
            "`django_housekeeping.view_taskrun` or `django_housekeeping.add_erasurerecord`."
        ),
        parameters=[api.ErasureListQuerySerializer],
        responses={
            200: OpenApiResponse(api.ErasureSerializer(many=True), description="The records."),
            400: BAD_REQUEST,
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        query = self.validated_query(api.ErasureListQuerySerializer)
        records = ErasureRecord.objects.select_related("requested_by").order_by(
            "-requested_at", "-id"
        )[: query.get("limit", 50)]
        return Response(api.ErasureSerializer(map(erasure_as_dict, records), many=True).data)

    @document(
        operation_id="erasures_create",
        summary="Erase a row",
        description=(
            "Deletes the row and what cascades from it through the purge engine (delete signals "
            "sent), and keeps an erasure record. 201 with the record when erased (or kept by a "
            "PROTECT/RESTRICT relation: `status` says `protected`); 200 for a dry run; 409 with "
            "the held rows when a legal hold is in the way (nothing deleted); 404 when there is "
            "no such row (or no such model); 400 for a model no erasure may touch (outside "
            "`ERASABLE_MODELS`, or never erasable: this library's models, the job store, "
            "`contenttypes`, auth permissions and groups, sessions, the admin log), dry runs "
            "included, with nothing deleted nor recorded. Needs "
            "`django_housekeeping.add_erasurerecord`."
        ),
        request=api.ErasureRequestSerializer,
        responses={
            200: OpenApiResponse(api.ErasureSerializer, description="The dry run's record."),
            201: OpenApiResponse(api.ErasureSerializer, description="The erasure's record."),
            400: BAD_REQUEST,
            **ERRORS,
            404: NOT_FOUND,
            409: OpenApiResponse(api.HeldSerializer, description="Refused by legal holds."),
            413: OpenApiResponse(api.ErrorSerializer, description="The body is too large."),
            415: OpenApiResponse(api.ErrorSerializer, description="The body is not JSON."),
        },
    )
    def post(self, request: Request) -> Response:
        body = api.ErasureRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        record = control.erase(
            self.actor, data["model"], data["pk"], reason=data["reason"], dry_run=data["dry_run"]
        )
        return Response(
            api.ErasureSerializer(erasure_as_dict(record)).data,
            status=status.HTTP_200_OK if record.dry_run else status.HTTP_201_CREATED,
        )


class NotFoundView(HousekeepingAPIView):
    """Any other URL under the API's prefix: 404 as JSON (after authentication)."""

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        raise exceptions.NotFound(f"The API has no {request.path_info!r}.")

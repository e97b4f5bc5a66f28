"""The API's runs: trigger, the run history, one run, cancel.

Triggers and cancels are the control layer's: it validates, throttles and dispatches; a view
parses and presents.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions, status
from rest_framework.generics import ListAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from django_housekeeping.api import inputs
from django_housekeeping.api import serializers as api
from django_housekeeping.api.base import (
    BAD_REQUEST,
    ERRORS,
    NOT_FOUND,
    HousekeepingAPIView,
    document,
)
from django_housekeeping.api.pagination import RunPagination
from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import TaskRun
from django_housekeeping.presenters.runs import (
    cancel_payload,
    find_run,
    run_detail_payload,
    trigger_payload,
)
from django_housekeeping.running import control
from django_housekeeping.running.runner import DispatchedRun

RUN_ID = OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Run id.")


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
        request=inputs.TriggerSerializer,
        parameters=[inputs.TriggerQuerySerializer],
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
        query = self.validated_query(inputs.TriggerQuerySerializer)
        body = inputs.TriggerSerializer(data=request.data)
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
        outcome = _outcome(runs) if finished else "accepted"
        data = trigger_payload(outcome, names, dry_run, runs, self.run_url)
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


class RunListView(HousekeepingAPIView, ListAPIView):  # type: ignore[type-arg]
    serializer_class = api.RunSerializer
    pagination_class = RunPagination
    queryset = TaskRun.objects.none()  # for the schema; get_queryset() filters the real one

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "run_url": self.run_url}

    def get_queryset(self) -> Any:
        runs = TaskRun.objects.select_related("triggered_by").order_by("-started_at", "-id")
        filters = self.validated_query(inputs.RunFilterSerializer)
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
        parameters=[inputs.RunFilterSerializer],
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
        parameters=[RUN_ID],
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


class CancelView(HousekeepingAPIView):
    """``POST runs/<id>/cancel``: the control layer decides (:func:`~django_housekeeping.running.
    control.cancel`, permission ``run_task``); 202 with the run (the request is stored; a running
    run stops at its next progress step), 409 when the run is no longer active or was already
    asked to stop, 404 for an unknown id."""

    actions = {"POST": control.RUN}

    @document(
        operation_id="runs_cancel",
        summary="Cancel a run",
        description=(
            "A queued run is cancelled before it starts; a running one stops at its next "
            "progress step (a purge between two batches: each committed batch stays "
            "committed) and ends `cancelled` with what it deleted so far. A group's run stops "
            "after its current member. Needs `django_housekeeping.run_task`. 409 when the run "
            "is no longer queued or running, or was already asked to stop."
        ),
        parameters=[RUN_ID],
        request=None,
        responses={
            202: OpenApiResponse(api.CancelSerializer, description="The cancel is recorded."),
            404: NOT_FOUND,
            409: OpenApiResponse(api.ErrorSerializer, description="The run is no longer active."),
            **ERRORS,
        },
    )
    def post(self, request: Request, id: str) -> Response:
        done = control.cancel(self.actor, id)
        return Response(
            api.CancelSerializer(cancel_payload(done, self.run_url)).data,
            status=status.HTTP_202_ACCEPTED,
        )

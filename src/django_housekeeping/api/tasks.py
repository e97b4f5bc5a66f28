"""The API's tasks (with pause and resume) and retention policies."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from django_housekeeping.api import serializers as api
from django_housekeeping.api.base import ERRORS, HousekeepingAPIView, document
from django_housekeeping.presenters.policies import policies_payload
from django_housekeeping.presenters.tasks import tasks_payload
from django_housekeeping.running import control


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

"""The API's cancel endpoint: ``POST runs/<id>/cancel``.

The control layer decides (:func:`django_housekeeping.running.control.cancel`, permission
``run_task``); this view parses the id and presents the answer: 202 with the run (the request is
stored; a running run stops at its next progress step), 409 when the run is no longer active or
was already asked to stop, 404 for an unknown id.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from django_housekeeping.api.serializers import ErrorSerializer, RunSerializer
from django_housekeeping.api.views import ERRORS, NOT_FOUND, HousekeepingAPIView, document
from django_housekeeping.presenters import run_payload
from django_housekeeping.running import control


class CancelSerializer(serializers.Serializer):  # type: ignore[type-arg]
    detail = serializers.CharField(help_text="What happened, for a person to read.")
    ended = serializers.BooleanField(
        help_text="True when a queued run was cancelled before it started; false when a running "
        "run was asked to stop (it ends `cancelled` at its next progress step)."
    )
    run = RunSerializer()


class CancelView(HousekeepingAPIView):
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
        parameters=[
            OpenApiParameter("id", OpenApiTypes.INT, OpenApiParameter.PATH, description="Run id.")
        ],
        request=None,
        responses={
            202: OpenApiResponse(CancelSerializer, description="The cancel is recorded."),
            404: NOT_FOUND,
            409: OpenApiResponse(ErrorSerializer, description="The run is no longer active."),
            **ERRORS,
        },
    )
    def post(self, request: Request, id: str) -> Response:
        done = control.cancel(self.actor, id)
        data = {
            "detail": done.detail,
            "ended": done.ended,
            "run": run_payload(done.run, self.run_url),
        }
        return Response(CancelSerializer(data).data, status=status.HTTP_202_ACCEPTED)

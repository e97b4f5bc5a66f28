"""The API's erasure requests and records."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import status
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
from django_housekeeping.models import ErasureRecord
from django_housekeeping.presenters.erasures import erasure_as_dict
from django_housekeeping.running import control


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
        parameters=[inputs.ErasureListQuerySerializer],
        responses={
            200: OpenApiResponse(api.ErasureSerializer(many=True), description="The records."),
            400: BAD_REQUEST,
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        query = self.validated_query(inputs.ErasureListQuerySerializer)
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
        request=inputs.ErasureRequestSerializer,
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
        body = inputs.ErasureRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        record = control.erase(
            self.actor, data["model"], data["pk"], reason=data["reason"], dry_run=data["dry_run"]
        )
        return Response(
            api.ErasureSerializer(erasure_as_dict(record)).data,
            status=status.HTTP_200_OK if record.dry_run else status.HTTP_201_CREATED,
        )

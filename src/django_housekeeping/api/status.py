"""The API's scheduler status and statistics."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response

from django_housekeeping.api import inputs
from django_housekeeping.api import serializers as api
from django_housekeeping.api.base import BAD_REQUEST, ERRORS, HousekeepingAPIView, document
from django_housekeeping.api.representation import represent
from django_housekeeping.presenters.scheduler import scheduler_payload
from django_housekeeping.presenters.statistics import statistics_payload
from django_housekeeping.tasks.registry import NotRegistered


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
        return Response(api.StatusSerializer(scheduler_payload(self.run_url)).data)


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
        parameters=[inputs.StatisticsQuerySerializer],
        responses={
            200: OpenApiResponse(api.StatisticsSerializer, description="The statistics."),
            400: BAD_REQUEST,
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        query = self.validated_query(inputs.StatisticsQuerySerializer)
        try:
            data = statistics_payload(query.get("task"), query["days"])
        except NotRegistered as exc:
            raise exceptions.ValidationError({"task": [str(exc)]}) from None
        return Response(represent(api.StatisticsSerializer(), data))

"""A list of runs written by the compiled converter is what DRF writes run by run, for every
kind of run; and what the converter does not handle is written by DRF."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from rest_framework import serializers

from django_housekeeping import housekeeping_task
from django_housekeeping.api.representation import (
    CompiledListSerializer,
    compile_representation,
    represent,
)
from django_housekeeping.api.serializers import (
    PointSerializer,
    PointsField,
    RunDetailSerializer,
    RunSerializer,
    StatisticsSerializer,
)
from django_housekeeping.models import TaskRun
from django_housekeeping.presenters import run_detail_payload, statistics_payload
from tests.helpers import make_run, make_user

pytestmark = pytest.mark.django_db


def run_url(pk: int) -> str:
    return f"/api/runs/{pk}"


@pytest.fixture
def history() -> list[TaskRun]:
    alice = make_user("alice")
    group = make_run("nightly", result={"members": {"a": "succeeded"}})
    return [
        make_run("purge", result={"deleted": {"a.B": 3, "a.C": 12}, "total": 15, "partial": True}),
        make_run(
            "purge",
            dry_run=True,
            trigger=TaskRun.Trigger.MANUAL,
            triggered_by=alice,
            result={"deleted": {"a.B": 3}, "total": 3, "protected": {"a.B": 1}},
        ),
        make_run("purge", status=TaskRun.Status.FAILED, error="ValueError: no", result=None),
        make_run("stats", result={"total_users": 12, "ratio": 0.5, "flag": True}),
        make_run(
            "stats",
            status=TaskRun.Status.RUNNING,
            duration=None,
            progress_done=3,
            progress_total=7,
        ),
        make_run("queued", status=TaskRun.Status.QUEUED, duration=None, slot=None),
        make_run("a", parent=group, result={"deleted": {}, "total": 0}, age=timedelta(seconds=1)),
        group,
        make_run("weird", result=["not", "an", {"object": 1}]),
        make_run("scalar", result=42, attempt=2),
    ]


def test_a_list_of_runs_is_what_drf_writes_run_by_run(history: list[TaskRun]) -> None:
    context = {"run_url": run_url}
    listed = RunSerializer(history, many=True, context=context)
    assert isinstance(listed, CompiledListSerializer)
    one_by_one = [dict(RunSerializer(run, context=context).data) for run in history]
    assert [dict(item) for item in listed.data] == one_by_one
    assert one_by_one[1]["triggered_by"] == "alice"
    assert one_by_one[1]["details"]["models"][0]["model"] == "a.B"


def test_a_groups_member_runs_are_written_the_same(history: list[TaskRun]) -> None:
    group = history[7]
    data = RunDetailSerializer(run_detail_payload(group, run_url)).data
    assert [child["task"] for child in data["children"]] == ["a"]
    assert data["children"][0] == RunSerializer(history[6], context={"run_url": run_url}).data


class Anything(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField()
    everything = serializers.DictField(source="*")


class Nested(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField(source="owner.name")


def test_a_serializer_with_a_field_it_does_not_handle_is_not_compiled() -> None:
    assert compile_representation(Anything()) is None
    assert compile_representation(Nested()) is None


class Plain(serializers.Serializer):  # type: ignore[type-arg]
    name = serializers.CharField()
    size = serializers.IntegerField(required=False)

    class Meta:
        list_serializer_class = CompiledListSerializer

    def payload(self, instance: Any) -> Any:
        return instance


def test_an_item_missing_a_key_is_written_by_drf() -> None:
    items = [{"name": "a", "size": 1}, {"name": "b"}, {"name": None, "size": None}]
    assert Plain(items, many=True).data == [
        {"name": "a", "size": 1},
        {"name": "b"},  # DRF leaves out a missing optional field
        {"name": None, "size": None},
    ]


@pytest.mark.usefixtures("temporary_tasks")
def test_the_statistics_are_what_drf_writes(settings: Any) -> None:
    settings.HOUSEKEEPING = {"STATISTICS_TASK": "stats"}
    housekeeping_task(name="stats", destructive=False)(lambda: {})
    for age, users in ((3, 10), (2, 11), (1, 12)):
        make_run("stats", result={"total_users": users, "ratio": 0.5}, age=timedelta(days=age))
    make_run("purge", result={"deleted": {"a.B": 3}, "total": 3}, age=timedelta(days=1))
    make_run("purge", status=TaskRun.Status.FAILED, result=None, age=timedelta(hours=1))
    payload = statistics_payload()
    assert payload["series"]
    assert payload["housekeeping"]["tasks"]
    written = represent(StatisticsSerializer(), payload)
    assert written == StatisticsSerializer(payload).data
    users = next(series for series in written["series"] if series["key"] == "total_users")
    assert [point["value"] for point in users["points"]] == [10, 11, 12]


@pytest.mark.parametrize("zone", ["UTC", "Europe/Berlin", "America/St_Johns"])
def test_a_series_points_times_are_what_drfs_datetime_field_writes(
    settings: Any, zone: str
) -> None:
    settings.TIME_ZONE = zone
    moments = [
        datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=UTC),  # around a DST change in Berlin
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 11, 30, 12, 0, 0, 1, tzinfo=UTC),
    ]
    points = [{"at": moment, "value": 1, "run_id": 7} for moment in moments]
    written = PointsField().to_representation(points)
    assert written == [dict(PointSerializer(point).data) for point in points]
    if zone == "UTC":
        assert written[0]["at"] == "2026-03-29T00:59:59.999999Z"


def test_a_custom_datetime_format_is_drfs(settings: Any) -> None:
    settings.REST_FRAMEWORK = {"DATETIME_FORMAT": "%Y-%m-%d %H:%M"}
    point = {"at": datetime(2026, 11, 30, 12, 0, tzinfo=UTC), "value": 1, "run_id": 7}
    assert PointsField().to_representation([point])[0]["at"] == "2026-11-30 13:00"

"""The trigger throttle: one budget per person, counted in the database, on every face."""

from __future__ import annotations

import functools
import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_housekeeping.conf.settings import Rate, parse_rate
from django_housekeeping.models import TaskRun, TriggerWindow
from django_housekeeping.running import control
from django_housekeeping.running.throttle import take
from tests.helpers import API, DASHBOARD, SHORT_TEST_KEY, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings"), SHORT_TEST_KEY]

NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "rate"),
    [
        ("30/minute", Rate(30, 60)),
        ("5/10s", Rate(5, 10)),
        ("100/hour", Rate(100, 3600)),
        ("1000/day", Rate(1000, 86400)),
        ("2/second", Rate(2, 1)),
        (" 7 / min ", Rate(7, 60)),
    ],
)
def test_rates(text: str, rate: Rate) -> None:
    assert parse_rate(text) == rate


@pytest.mark.parametrize("text", ["30", "30 per minute", "0/minute", "3/0s", "x/day", None, 30])
def test_what_is_no_rate(text: Any) -> None:
    assert parse_rate(text) is None


def test_a_window_allows_the_limit_then_refuses_until_it_ends() -> None:
    rate = Rate(3, 60)

    taken = [take("user:1", rate, NOON + timedelta(seconds=s)) for s in (0, 10, 20)]
    refused = take("user:1", rate, NOON + timedelta(seconds=45))

    assert taken == [None, None, None]
    assert refused is not None
    assert refused.retry_after == 15
    assert take("user:2", rate, NOON + timedelta(seconds=45)) is None  # per person
    assert take("user:1", rate, NOON + timedelta(seconds=60)) is None  # the next window
    assert TriggerWindow.objects.get(key="user:1").count == 1


def test_one_row_per_person() -> None:
    for minute in range(5):
        take("user:1", Rate(3, 60), NOON + timedelta(minutes=minute))

    assert TriggerWindow.objects.count() == 1


def test_the_faces_share_one_budget(settings: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings.HOUSEKEEPING = {"TRIGGER_THROTTLE_RATE": "3/hour"}
    # The windows are whole hours of the clock: it stands still, so the test cannot straddle two.
    monkeypatch.setattr(control, "take", functools.partial(take, now=timezone.now()))
    client = Client()
    client.force_login(make_user("root", superuser=True))

    api = client.post(
        API + "trigger",
        json.dumps({"task": "record", "dry_run": True}),
        content_type="application/json",
    )
    dashboard = client.post(
        DASHBOARD + "trigger/",
        json.dumps({"task": "threads", "dry_run": True}),
        content_type="application/json",
    )
    admin = client.post(
        reverse("admin:django_housekeeping_run"), {"task": "nightly", "dry_run": "1"}
    )
    refused_dashboard = client.post(
        DASHBOARD + "trigger/",
        json.dumps({"task": "boom", "dry_run": True}),
        content_type="application/json",
    )
    refused_admin = client.post(
        reverse("admin:django_housekeeping_run"), {"task": "boom", "dry_run": "1"}
    )

    assert (api.status_code, dashboard.status_code, admin.status_code) == (202, 202, 302)
    assert refused_dashboard.status_code == 429
    assert refused_dashboard.json()["detail"].startswith(
        "Too many runs started: 3 per 3600 s are allowed. Try again in "
    )
    assert 0 < int(refused_dashboard["Retry-After"]) <= 3600
    *_started, message = list(get_messages(refused_admin.wsgi_request))
    assert message.level_tag == "error"
    assert str(message).startswith("Too many runs started: 3 per 3600 s are allowed.")
    assert set(TaskRun.objects.values_list("task_name", flat=True)) == {
        "record",
        "threads",
        "nightly",
    }


def test_the_command_line_is_not_throttled(settings: Any) -> None:
    settings.HOUSEKEEPING = {"TRIGGER_THROTTLE_RATE": "1/hour"}
    for _ in range(3):
        call_command("housekeeping", "run", "record", "--dry-run", stdout=io.StringIO())

    assert TaskRun.objects.count() == 3
    assert not TriggerWindow.objects.exists()

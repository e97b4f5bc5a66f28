"""What the scheduler is doing: ``scheduler_status()`` and ``manage.py housekeeping status``."""

from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django_apscheduler.models import DjangoJob

from django_housekeeping import registry
from django_housekeeping.lease import LEASE_NAME
from django_housekeeping.models import SchedulerLease, TaskRun, TaskState
from django_housekeeping.status import scheduler_status

pytestmark = pytest.mark.django_db

JOB_KEYS = {"id", "name", "trigger", "next_run", "enabled", "paused", "last_run"}
LEADER_KEYS = {
    "owner",
    "host",
    "pid",
    "token",
    "acquired_at",
    "heartbeat_at",
    "expires_at",
    "lease_age_seconds",
    "healthy",
}


def make_lease(*, heartbeat_age: float, expires_in: float, owner: str = "web-1:4242:abc") -> Any:
    now = timezone.now()
    return SchedulerLease.objects.create(
        name=LEASE_NAME,
        owner=owner,
        token=3,
        host="web-1",
        pid=4242,
        acquired_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(seconds=heartbeat_age),
        expires_at=now + timedelta(seconds=expires_in),
    )


def status_command(*args: str) -> tuple[str, int]:
    """Run ``housekeeping status``; its output and exit status."""
    out = io.StringIO()
    try:
        call_command("housekeeping", "status", *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc.returncode
    return out.getvalue(), 0


# -- scheduler_status() -------------------------------------------------------------------------


def test_without_a_lease_the_scheduler_is_stopped() -> None:
    status = scheduler_status()

    assert status["state"] == "stopped"
    assert status["healthy"] is False
    assert status["leader"] is None
    assert abs((timezone.now() - status["now"]).total_seconds()) < 60


def test_a_released_lease_is_stopped() -> None:
    SchedulerLease.objects.create(name=LEASE_NAME, owner="", expires_at=timezone.now())

    status = scheduler_status()

    assert status["state"] == "stopped"
    assert status["leader"] is None


def test_a_live_lease_is_a_running_healthy_leader() -> None:
    lease = make_lease(heartbeat_age=4, expires_in=26)

    status = scheduler_status()

    assert status["state"] == "running"
    assert status["healthy"] is True
    leader = status["leader"]
    assert set(leader) == LEADER_KEYS
    assert leader["owner"] == lease.owner
    assert leader["host"] == "web-1"
    assert leader["pid"] == 4242
    assert leader["token"] == 3
    assert leader["healthy"] is True
    assert leader["acquired_at"] == lease.acquired_at
    assert leader["heartbeat_at"] == lease.heartbeat_at
    assert leader["expires_at"] == lease.expires_at
    assert 4 <= leader["lease_age_seconds"] < 10


def test_the_lease_age_falls_back_to_the_acquisition_time() -> None:
    lease = make_lease(heartbeat_age=0, expires_in=20)
    SchedulerLease.objects.filter(pk=lease.pk).update(heartbeat_at=None)

    leader = scheduler_status()["leader"]

    assert leader["heartbeat_at"] == lease.acquired_at
    assert 3600 <= leader["lease_age_seconds"] < 3660


def test_an_expired_lease_is_stale() -> None:
    make_lease(heartbeat_age=90, expires_in=-60)

    status = scheduler_status()

    assert status["state"] == "stale"
    assert status["healthy"] is False
    assert status["leader"]["healthy"] is False
    assert status["leader"]["host"] == "web-1"
    assert status["leader"]["lease_age_seconds"] >= 90


def test_jobs_list_every_task_with_its_next_run_pause_trigger_and_last_run() -> None:
    next_run = timezone.now().replace(microsecond=0) + timedelta(hours=2)
    DjangoJob.objects.create(id="record", next_run_time=next_run, job_state=b"")
    TaskState.objects.create(task_name="threads", paused=True)
    TaskState.objects.create(task_name="no_context_typo", paused=True)  # no such task: ignored
    started = timezone.now() - timedelta(minutes=5)
    run = TaskRun.objects.create(
        task_name="record",
        trigger=TaskRun.Trigger.SCHEDULE,
        status=TaskRun.Status.SUCCEEDED,
        started_at=started,
        finished_at=started + timedelta(seconds=2),
        duration=timedelta(seconds=2),
        result={"threads": 0},
    )

    jobs = {job["id"]: job for job in scheduler_status()["jobs"]}

    assert list(jobs) == [task.name for task in registry]  # every task, sorted by name
    assert all(set(job) == JOB_KEYS for job in jobs.values())
    record = jobs["record"]
    assert record["next_run"] == next_run
    assert record["trigger"] == "every(6:00:00)"
    assert record["paused"] is False
    assert record["enabled"] is True
    assert record["name"] == "record"
    assert record["last_run"]["id"] == run.pk
    assert record["last_run"]["status"] == TaskRun.Status.SUCCEEDED
    threads = jobs["threads"]
    assert threads["paused"] is True
    assert threads["next_run"] is None  # no stored job
    assert threads["trigger"] == "cron('0 3 * * sun')"
    assert threads["name"] == "Delete threads older than N days"
    assert threads["last_run"] is None
    assert "no_context_typo" not in jobs
    assert jobs["boom"]["trigger"] == "manual"
    assert jobs["dormant"]["enabled"] is False


def test_a_schedule_set_in_the_admin_is_shown_as_such() -> None:
    TaskState.objects.create(task_name="record", schedule="15 4 * * *")
    TaskState.objects.create(task_name="threads", schedule="not a cron")

    jobs = {job["id"]: job for job in scheduler_status()["jobs"]}

    assert jobs["record"]["trigger"] == "cron('15 4 * * *') (set in the admin)"
    assert jobs["threads"]["trigger"].startswith("invalid admin schedule: ")
    assert "not a cron" in jobs["threads"]["trigger"]


# -- manage.py housekeeping status --------------------------------------------------------------


def test_status_command_when_stopped_exits_1() -> None:
    output, code = status_command()

    assert code == 1
    assert "Scheduler: stopped (no scheduler has taken the lease)" in output
    for header in ("Task", "Trigger", "Next run", "Active", "Last run"):
        assert header in output
    assert "record" in output


def test_status_command_when_healthy_exits_0_and_shows_the_leader_and_jobs() -> None:
    make_lease(heartbeat_age=2, expires_in=28)
    next_run = timezone.now() + timedelta(hours=2)
    DjangoJob.objects.create(id="record", next_run_time=next_run, job_state=b"")
    TaskState.objects.create(task_name="threads", paused=True)

    output, code = status_command()

    assert code == 0
    first_line = output.splitlines()[0]
    assert first_line.startswith("Scheduler: running (leader web-1 pid 4242, lease age ")
    assert first_line.endswith(" s, token 3)")
    rows = {line.split()[0]: line for line in output.splitlines()[3:] if line.strip()}
    assert f"{timezone.localtime(next_run):%Y-%m-%d %H:%M:%S %Z}" in rows["record"]
    assert "paused" in rows["threads"]
    assert "disabled" in rows["dormant"]
    assert rows["record"].rstrip().endswith("never")


def test_status_command_when_stale_exits_1() -> None:
    make_lease(heartbeat_age=90, expires_in=-60)

    output, code = status_command()

    assert code == 1
    assert output.startswith("Scheduler: stale (leader web-1 pid 4242, lease age ")


def test_status_command_shows_the_last_run() -> None:
    make_lease(heartbeat_age=1, expires_in=29)
    started = timezone.now() - timedelta(minutes=1)
    TaskRun.objects.create(
        task_name="boom",
        trigger=TaskRun.Trigger.CLI,
        status=TaskRun.Status.FAILED,
        started_at=started,
    )

    output, _ = status_command()

    (row,) = [line for line in output.splitlines() if line.startswith("boom ")]
    assert f"failed {timezone.localtime(started):%Y-%m-%d %H:%M:%S %Z}" in row


@pytest.mark.parametrize(("healthy", "code"), [(True, 0), (False, 1)])
def test_status_command_json(healthy: bool, code: int) -> None:
    if healthy:
        make_lease(heartbeat_age=1, expires_in=29)
    next_run = timezone.now().replace(microsecond=0) + timedelta(hours=1)
    DjangoJob.objects.create(id="record", next_run_time=next_run, job_state=b"")

    output, exit_code = status_command("--json")

    assert exit_code == code
    data = json.loads(output)
    assert set(data) == {"now", "state", "healthy", "leader", "jobs"}
    assert data["healthy"] is healthy
    assert data["state"] == ("running" if healthy else "stopped")
    if healthy:
        assert set(data["leader"]) == LEADER_KEYS
        assert data["leader"]["pid"] == 4242
    else:
        assert data["leader"] is None
    jobs = {job["id"]: job for job in data["jobs"]}
    assert parse_datetime(jobs["record"]["next_run"]) == next_run
    assert jobs["threads"]["next_run"] is None

"""The "django_tasks" executor with real workers: scheduler processes that only enqueue, and the
workers of Django's Tasks framework that execute — django-tasks-db's ``db_worker`` and RQ's
workers (django-tasks-rq, on a database of the local Redis: ``REDIS_TEST_DB`` of tests/settings.py,
one per test database) — on the database this test run uses.

The tasks come from ``tests/proctasks/housekeeping.py``: ``tick`` (every second) records each
slot it runs, and the process that ran it, in a table without any unique constraint; ``crashy``'s
first run hangs, for its worker to be killed; ``solo`` and ``slow_api`` are run by hand.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from django_housekeeping.models import TaskRun
from django_housekeeping.running import workers
from tests.helpers import Processes, free_port, is_alive, leader_pid, process_environment, wait_for
from tests.procapp.models import SoloRecord, TickRecord
from tests.running.test_overlap_processes import Api, operator
from tests.scheduling.test_processes import assert_each_slot_at_most_once_and_most_slots_run
from tests.settings import REDIS_TEST_DB

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes, pytest.mark.workers]

LEASE_TTL = 3.0
HEARTBEAT_TIMEOUT = 3.0
TICK = 1.0
DB_SECONDS = 60  # how long the tick task runs on db_workers
RQ_SECONDS = 30  # on RQ workers

# django-tasks-db's workers claim their queue's rows with SELECT ... FOR UPDATE SKIP LOCKED, which
# SQLite does not have: db_workers on SQLite take turns on one database lock (docs/deployment.md).
DB_WORKER_DATABASES = pytest.mark.databases("postgres", "mysql")


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    environment = process_environment(LEASE_TTL)
    environment["HOUSEKEEPING_PROCESS_HEARTBEAT_TIMEOUT"] = str(HEARTBEAT_TIMEOUT)
    started = Processes(environment, tmp_path)
    yield started
    started.stop_all()
    print(started.logs())  # shown by pytest when the test failed


@pytest.fixture
def redis_db() -> Iterator[redis.Redis]:
    """The local Redis's database of this test run, empty before and after the test (only that
    database: the other databases' test runs use their own)."""
    connection = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_TEST_DB)
    connection.flushdb()
    yield connection
    connection.flushdb()
    connection.close()


def start_db_workers(processes: Processes, count: int = 2) -> list[subprocess.Popen[bytes]]:
    return [
        processes.django(
            f"db_worker-{number}",
            "db_worker",
            "--backend",
            "database",
            "--interval",
            "0.2",
            "--no-startup-delay",
            "--no-reload",
        )
        for number in range(count)
    ]


def start_rq_workers(processes: Processes, count: int = 2) -> list[subprocess.Popen[bytes]]:
    return [
        processes.django(
            f"rqworker-{number}", "rqworker", "default", "--job-class", "django_tasks_rq.Job"
        )
        for number in range(count)
    ]


def start_schedulers(processes: Processes, count: int = 2) -> list[subprocess.Popen[bytes]]:
    return [
        processes.django(f"scheduler-{number}", "housekeeping", "scheduler")
        for number in range(count)
    ]


def run_ticks(processes: Processes, seconds: int) -> None:
    """Wait for ``seconds`` of ticks from the first one, then stop every process."""
    first = wait_for(lambda: TickRecord.objects.order_by("slot").first(), 60, "the first tick")
    wait_for(
        lambda: TickRecord.objects.filter(
            slot__gte=first.slot + timedelta(seconds=seconds)
        ).exists(),
        seconds + 30,
        f"{seconds} s of ticks",
    )
    processes.stop_all()
    assert_each_slot_at_most_once_and_most_slots_run(first.slot, seconds)


def assert_ran_on_the_workers_only(
    executors: set[int], worker_pids: set[int], scheduler_pids: set[int]
) -> None:
    assert executors == worker_pids, f"executed by {executors}, workers {worker_pids}"
    assert not executors & scheduler_pids


# -- 1. django-tasks-db: 2 scheduler processes, 2 db_workers ---------------------------------------


@DB_WORKER_DATABASES
def test_db_workers_execute_each_slot_once(processes: Processes) -> None:
    processes.env["HOUSEKEEPING_PROCESS_EXECUTOR"] = "database"
    processes.env["HOUSEKEEPING_PROCESS_DISABLE"] = "slow"
    schedulers = start_schedulers(processes)
    db_workers = start_db_workers(processes)

    run_ticks(processes, DB_SECONDS)

    assert_ran_on_the_workers_only(
        set(TickRecord.objects.values_list("pid", flat=True)),
        {worker.pid for worker in db_workers},
        {scheduler.pid for scheduler in schedulers},
    )
    runs = TaskRun.objects.filter(task_name="tick")
    assert not runs.exclude(status__in=["succeeded", "skipped", "missed"]).exists(), list(
        runs.exclude(status="succeeded").values("status", "error")
    )
    assert not runs.filter(enqueued_at__isnull=True, status="succeeded").exists()


# -- 2. RQ: 2 scheduler processes, 2 RQ workers ----------------------------------------------------


def test_rq_workers_execute_each_slot_once(processes: Processes, redis_db: redis.Redis) -> None:
    processes.env["HOUSEKEEPING_PROCESS_EXECUTOR"] = "rq"
    processes.env["HOUSEKEEPING_PROCESS_DISABLE"] = "slow"
    schedulers = start_schedulers(processes)
    rq_workers = start_rq_workers(processes)

    run_ticks(processes, RQ_SECONDS)

    # An RQ worker executes each job in a child process of its own: its parent is the worker.
    assert_ran_on_the_workers_only(
        set(TickRecord.objects.values_list("ppid", flat=True)),
        {worker.pid for worker in rq_workers},
        {scheduler.pid for scheduler in schedulers},
    )
    assert not TaskRun.objects.filter(task_name="tick", status="failed").exists()


# -- 3. a run enqueued twice -----------------------------------------------------------------------


@DB_WORKER_DATABASES
def test_a_run_enqueued_again_executes_once(processes: Processes, settings: Any) -> None:
    """The queued run's message three times, and the finished run's twice more: one execution."""
    settings.HOUSEKEEPING = {"EXECUTOR": "django_tasks", "EXECUTOR_BACKEND": "database"}
    now = timezone.now()
    run = TaskRun.objects.create(
        task_name="solo",
        trigger="api",
        status="queued",
        started_at=now,
        heartbeat_at=now,
        enqueued_at=now,
        active_task="solo",
    )
    for _ in range(3):
        workers.enqueue(run.pk)
    start_db_workers(processes)

    def all_done(messages: int) -> bool:
        return DBTaskResult.objects.filter(status="SUCCESSFUL").count() == messages

    wait_for(lambda: all_done(3), 60, "the three messages to be processed")
    run.refresh_from_db()
    assert run.status == "succeeded"
    for _ in range(2):
        workers.enqueue(run.pk)
    wait_for(lambda: all_done(5), 60, "the two messages of the finished run to be processed")

    assert SoloRecord.objects.filter(run_id=run.pk).count() == 1
    assert set(DBTaskResult.objects.values_list("return_value", flat=True)) <= {
        "running",
        "succeeded",
    }


# -- 4. a worker killed in the middle of a run -----------------------------------------------------


@DB_WORKER_DATABASES
@pytest.mark.parametrize("retries", [1, 0])
def test_a_worker_killed_mid_run(processes: Processes, retries: int) -> None:
    processes.env.update(
        HOUSEKEEPING_PROCESS_EXECUTOR="database",
        HOUSEKEEPING_PROCESS_TASKS="crashy",
        HOUSEKEEPING_PROCESS_DISABLE="tick,slow",
        HOUSEKEEPING_PROCESS_RETRIES=str(retries),
    )
    (scheduler,) = start_schedulers(processes, 1)
    db_workers = {worker.pid: worker for worker in start_db_workers(processes)}
    hung = wait_for(
        lambda: TaskRun.objects.filter(task_name="crashy", status="running").first(),
        60,
        "the first run of crashy to start on a worker",
    )
    assert hung.attempt == 1
    assert hung.pid in db_workers

    os.killpg(hung.pid, signal.SIGKILL)
    db_workers[hung.pid].wait(10)
    assert not is_alive(hung.pid)

    def interrupted() -> bool:
        hung.refresh_from_db()
        return hung.status == TaskRun.Status.INTERRUPTED

    wait_for(interrupted, HEARTBEAT_TIMEOUT + TICK + 2, "the run to be marked interrupted")
    assert f"pid {hung.pid}" in hung.error
    (survivor,) = set(db_workers) - {hung.pid}

    if retries:
        retry = wait_for(
            lambda: TaskRun.objects.filter(
                task_name="crashy", slot=hung.slot, attempt=2, status="succeeded"
            ).first(),
            30,
            "the second attempt of the slot to succeed",
        )
        assert retry.retry_of_id == hung.pk
        assert retry.pid == survivor
    else:
        wait_for(
            lambda: TaskRun.objects.filter(
                task_name="crashy", status="succeeded", started_at__gt=hung.finished_at
            ).exists(),
            30,
            "a later slot to run",
        )
        assert not TaskRun.objects.filter(task_name="crashy", attempt__gt=1).exists()
    assert is_alive(scheduler.pid)


# -- 5. a run started through the API -------------------------------------------------------------


@DB_WORKER_DATABASES
def test_an_api_run_is_queued_then_executed_by_a_worker(processes: Processes) -> None:
    processes.env["HOUSEKEEPING_PROCESS_EXECUTOR"] = "database"
    api = Api(processes.gunicorn(workers=1), operator())

    status, body, server_pid = api.post("trigger", {"task": "slow_api"})

    # The request returned with the run queued, before any worker existed.
    assert status == 202, body
    (answered,) = body["runs"]
    assert answered["status"] == "queued"
    run = TaskRun.objects.get(pk=answered["id"])
    assert (run.status, run.trigger) == ("queued", "api")
    db_workers = {worker.pid for worker in start_db_workers(processes)}

    wait_for(
        lambda: TaskRun.objects.filter(pk=run.pk, status="running").exists(),
        60,
        "a worker to start the run",
    )
    wait_for(
        lambda: TaskRun.objects.filter(pk=run.pk, status="succeeded").exists(),
        60,
        "the run to succeed",
    )
    run.refresh_from_db()
    assert run.pid in db_workers
    assert run.pid != server_pid


# -- 6. the broker is down -------------------------------------------------------------------------


def test_a_slot_that_cannot_be_enqueued_is_failed_and_the_scheduler_goes_on(
    processes: Processes,
) -> None:
    processes.env.update(
        HOUSEKEEPING_PROCESS_EXECUTOR="rq",
        HOUSEKEEPING_PROCESS_REDIS_PORT=str(free_port()),  # nothing listens there
        HOUSEKEEPING_PROCESS_DISABLE="slow",
    )
    (scheduler,) = start_schedulers(processes, 1)

    def failed_slots() -> list[TaskRun]:
        return list(TaskRun.objects.filter(task_name="tick", status="failed").order_by("slot"))

    failed = wait_for(lambda: len(runs := failed_slots()) >= 3 and runs, 60, "three failed slots")

    assert len({run.slot for run in failed}) == len(failed)
    for run in failed:
        assert run.error.startswith("Could not enqueue the run on the 'rq' backend"), run.error
        assert "Connection" in run.error
    # Nothing was left queued: each slot is failed, and frees the task for the next one.
    assert not TaskRun.objects.filter(
        task_name="tick", status="queued", slot__lt=failed[-1].slot
    ).exists()
    assert leader_pid() == scheduler.pid
    assert not TickRecord.objects.exists()

"""A task never runs twice at once, whichever processes start it; a run whose process dies is
marked interrupted and frees its task; the API's waits and the trigger throttle hold under
gunicorn. Real OS processes on the database this test run uses (marker ``processes``).

The tasks come from ``tests/proctasks/housekeeping.py``: ``solo`` (and the scheduled
``solo_sched``) records each execution with its real start and end in ``SoloRecord``, which has no
constraint: two overlapping executions would show up there.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.request
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.contrib.auth.models import User

from django_housekeeping.models import TaskRun
from tests.helpers import Processes, is_alive, leader_pid, process_environment, wait_for
from tests.procapp.models import SoloRecord

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]

TRIES = 20
HEARTBEAT_TIMEOUT = 3.0  # tests/process_settings.py
TICK = 1.0
PASSWORD = "race-password"


@pytest.fixture
def processes(tmp_path: Path):
    environment = process_environment(3.0)
    environment["HOUSEKEEPING_PROCESS_HEARTBEAT_TIMEOUT"] = str(HEARTBEAT_TIMEOUT)
    started = Processes(environment, tmp_path)
    yield started
    started.stop_all()
    print(started.logs())  # shown by pytest when the test failed


def assert_never_overlapped(task_names: set[str]) -> list[SoloRecord]:
    """The executions of these tasks, one after the other: each ended before the next began."""
    executions = list(
        SoloRecord.objects.filter(task_name__in=task_names).order_by("started_at", "id")
    )
    for earlier, later in pairwise(executions):
        assert earlier.finished_at <= later.started_at, (
            f"runs #{earlier.run_id} ({earlier.trigger}, pid {earlier.pid}) and #{later.run_id} "
            f"({later.trigger}, pid {later.pid}) overlapped"
        )
    return executions


def racer_results(processes: Processes, name: str) -> list[dict[str, Any]]:
    log = (processes.log_dir / f"{name}.log").read_text(errors="replace")
    return [json.loads(line) for line in log.splitlines() if line.startswith('{"call"')]


def race(processes: Processes, names: list[str], *command: str) -> list[dict[str, Any]]:
    """Start one racer process per name; each calls ``command`` TRIES times, all at the same
    instants (0.8 s apart: longer than a run of the task; from a moment when every process has set
    Django up)."""
    start = time.time() + 5
    for name in names:
        processes.start(name, "-m", "tests.racer", str(start), "0.8", str(TRIES), *command)
    for name in names:
        assert processes.started[name].wait(start - time.time() + TRIES + 60) == 0, name
    return [result for name in names for result in racer_results(processes, name)]


# -- never two running runs of one task ------------------------------------------------------------


def test_two_command_line_runs_started_together(processes: Processes) -> None:
    results = race(processes, ["cli-a", "cli-b"], "housekeeping", "run", "solo")

    statuses = [result["status"] for result in results]
    assert len(statuses) == 2 * TRIES
    assert set(statuses) <= {0, 3}, results
    conflicts = [result["message"] for result in results if result["status"] == 3]
    assert conflicts, "the two processes never met"
    assert all(message.startswith("solo is already ") for message in conflicts)
    executions = assert_never_overlapped({"solo"})
    assert len(executions) == statuses.count(0)
    assert not TaskRun.objects.filter(task_name="solo").exclude(status="succeeded").exists()


def test_a_scheduled_slot_against_a_manual_run(processes: Processes) -> None:
    processes.env["HOUSEKEEPING_PROCESS_TASKS"] = "solo_sched"
    processes.django("scheduler", "housekeeping", "scheduler")
    wait_for(
        lambda: TaskRun.objects.filter(task_name="solo_sched", status="succeeded").exists(),
        60,
        "the scheduler to run solo_sched",
    )

    results = race(processes, ["cli"], "housekeeping", "run", "solo_sched")

    refused = [result for result in results if result["status"] == 3]
    assert {result["status"] for result in results} <= {0, 3}
    skipped_slots = TaskRun.objects.filter(
        task_name="solo_sched", trigger="schedule", status="skipped"
    )
    assert refused or skipped_slots.exists(), "the manual runs never met a scheduled one"
    executions = assert_never_overlapped({"solo_sched"})
    assert {"cli", "schedule"} <= {execution.trigger for execution in executions}


# -- under gunicorn --------------------------------------------------------------------------------


class Api:
    """HTTP Basic requests to the API of a gunicorn started by the test."""

    def __init__(self, port: int, username: str) -> None:
        self.base = f"http://127.0.0.1:{port}/api/admin/scheduler/"
        token = base64.b64encode(f"{username}:{PASSWORD}".encode()).decode()
        self.headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: Any, timeout: float = 60) -> tuple[int, dict[str, Any], int]:
        """Status, JSON body and the pid of the worker that answered."""
        request = urllib.request.Request(
            self.base + path, json.dumps(body).encode(), self.headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return (
                    response.status,
                    json.loads(response.read()),
                    int(response.headers["X-Worker-Pid"]),
                )
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read()), int(error.headers["X-Worker-Pid"])


def operator(username: str = "operator") -> str:
    """A superuser whose password hash the servers check fast (their PASSWORD_HASHERS)."""
    User.objects.create(
        username=username,
        password=MD5PasswordHasher().encode(PASSWORD, "saltsalt"),
        is_staff=True,
        is_superuser=True,
    )
    return username


def test_two_api_requests_in_two_gunicorn_workers(processes: Processes) -> None:
    api = Api(processes.gunicorn(workers=2), operator())
    outcomes: list[tuple[int, dict[str, Any], int]] = []
    for _ in range(TRIES):
        barrier = threading.Barrier(2)

        def post(barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            outcomes.append(api.post("trigger", {"task": "solo"}))

        pair = [threading.Thread(target=post) for _ in range(2)]
        for thread in pair:
            thread.start()
        for thread in pair:
            thread.join(60)
        wait_for(
            lambda: not TaskRun.objects.filter(task_name="solo", active_task="solo").exists(),
            30,
            "the run to end",
        )

    statuses = [status for status, _, _ in outcomes]
    assert len(statuses) == 2 * TRIES
    assert set(statuses) <= {202, 409}, outcomes
    assert 409 in statuses, "the two requests never met"
    assert len({pid for _, _, pid in outcomes}) == 2, "one worker answered every request"
    conflicts = [body for status, body, _ in outcomes if status == 409]
    assert all(body["detail"].startswith("solo is already ") for body in conflicts)
    executions = assert_never_overlapped({"solo"})
    assert len(executions) == statuses.count(202)


def test_a_wait_beyond_the_limit_answers_202_in_time(processes: Processes) -> None:
    """``?wait=60`` on a 6-second task, MAX_WAIT 3 s, gunicorn's default 30-s timeout: a 202
    with the run's URL, not a worker killed in the middle of the request."""
    api = Api(processes.gunicorn(workers=1), operator())

    status, body, _ = api.post("trigger?wait=60", {"task": "slow_api"})

    assert status == 202, body
    assert body["status"] == "accepted"
    (run,) = body["runs"]
    assert run["url"].endswith(f"/api/admin/scheduler/runs/{run['id']}")
    assert run["status"] in {"queued", "running"}
    wait_for(lambda: TaskRun.objects.get(pk=run["id"]).status == "succeeded", 60, "the run to end")


def test_the_trigger_throttle_holds_across_two_workers(processes: Processes) -> None:
    processes.env["HOUSEKEEPING_PROCESS_THROTTLE"] = "10/day"
    api = Api(processes.gunicorn(workers=2), operator())
    day = time.gmtime().tm_yday
    outcomes: list[tuple[int, dict[str, Any], int]] = []

    def post() -> None:
        outcomes.append(api.post("trigger", {"task": "solo", "dry_run": True}))

    requests = [threading.Thread(target=post) for _ in range(30)]
    for thread in requests:
        thread.start()
    for thread in requests:
        thread.join(60)

    counted = [status for status, _, _ in outcomes if status != 429]
    assert len(outcomes) == 30
    assert len({pid for _, _, pid in outcomes}) == 2, "one worker answered every request"
    if time.gmtime().tm_yday == day:  # one day's window (the rate is per day, from midnight UTC)
        assert len(counted) == 10, outcomes
    assert len(counted) <= 20
    assert set(counted) <= {202, 409}


# -- a run whose process dies ----------------------------------------------------------------------


def test_a_killed_run_is_interrupted_and_the_next_slot_runs(processes: Processes) -> None:
    processes.env["HOUSEKEEPING_PROCESS_TASKS"] = "hang"
    processes.django("scheduler", "housekeeping", "scheduler")
    wait_for(leader_pid, 60, "a leader")
    cli = processes.django("cli", "housekeeping", "run", "hang")
    hung = wait_for(
        lambda: TaskRun.objects.filter(
            task_name="hang", trigger="cli", status="running", pid=cli.pid
        ).first(),
        60,
        "the command line's run",
    )
    # While it runs, the scheduler's slots of the task are skipped: it holds the claim.
    wait_for(
        lambda: TaskRun.objects.filter(
            task_name="hang", trigger="schedule", status="skipped", started_at__gt=hung.started_at
        ).exists(),
        30,
        "a skipped slot",
    )

    os.killpg(cli.pid, signal.SIGKILL)
    cli.wait(10)
    assert not is_alive(cli.pid)

    def interrupted() -> bool:
        hung.refresh_from_db()
        return hung.status == TaskRun.Status.INTERRUPTED

    wait_for(interrupted, HEARTBEAT_TIMEOUT + TICK + 2, "the run to be marked interrupted")
    assert hung.active_task is None
    assert f"pid {cli.pid}" in hung.error
    assert "HEARTBEAT_TIMEOUT" in hung.error
    wait_for(
        lambda: TaskRun.objects.filter(
            task_name="hang",
            trigger="schedule",
            status="succeeded",
            started_at__gt=hung.finished_at,
        ).exists(),
        30,
        "the next slot to run",
    )

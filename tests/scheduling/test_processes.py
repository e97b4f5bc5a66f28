"""Exactly-once scheduling with real OS processes, on the database this test run uses.

Each test starts real processes (``manage.py housekeeping scheduler``, gunicorn workers,
``runserver``) on the test database, then checks what they wrote. The every-second tasks ``tick``
and ``slow`` come from ``tests/proctasks/housekeeping.py``; ``tick`` records each slot it runs in a
table without any unique constraint, so a slot run twice would show up as two rows.
"""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from django.db import OperationalError, connection
from django.utils import timezone

from django_housekeeping.models import SchedulerLease, TaskRun
from tests.helpers import (
    Processes,
    free_port,
    is_alive,
    leader_pid,
    process_environment,
    wait_for,
)
from tests.procapp.models import SlowRecord, TickRecord

LEASE_TTL = 3.0
# How long the tick task runs in each test: the failover test needs about 30 s for its steps.
FAILOVER_SECONDS = 45
GUNICORN_SECONDS = 30

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.processes]


@pytest.fixture
def processes(tmp_path: Path):
    started = Processes(process_environment(LEASE_TTL), tmp_path)
    yield started
    started.stop_all()
    # Shown by pytest only when the test failed: what each process logged.
    print(started.logs())


def first_tick() -> TickRecord | None:
    return TickRecord.objects.order_by("slot").first()


def leader_between_tick_runs(previous: int | None = None) -> int | None:
    """The leader's pid once it has just finished the run of the slot now due, so that its next
    run is most of a second away; ``None`` until then, or while ``previous`` leads.

    A process stopped or killed in the middle of a run leaves that run ``running``, and the other
    schedulers skip the task until the run's heartbeat is older than the task's timeout (no
    overlap across processes). The failover steps mean to stop the leader between runs.
    """
    pid = leader_pid()
    if pid is None or pid == previous:
        return None
    latest = TaskRun.objects.filter(task_name="tick").order_by("-slot").first()
    if latest is None or latest.pid != pid or latest.finished_at is None:
        return None
    now = timezone.now()
    due_slot_ran = now - latest.slot < timedelta(seconds=1)
    just_finished = now - latest.finished_at < timedelta(seconds=0.5)
    return pid if due_slot_ran and just_finished else None


def kill_database_connections() -> int:
    """Kill every other connection to the test database; return how many were killed."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
            return int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT ID FROM information_schema.PROCESSLIST "
            "WHERE DB = DATABASE() AND ID <> CONNECTION_ID()"
        )
        killed = 0
        for (connection_id,) in cursor.fetchall():
            try:
                cursor.execute(f"KILL {int(connection_id)}")
            except OperationalError as exc:
                # 1094 "Unknown thread id": it disconnected since the list was read.
                if exc.args[0] != 1094:
                    raise
            else:
                killed += 1
        return killed


def assert_each_slot_at_most_once_and_most_slots_run(first_slot: datetime, seconds: int) -> None:
    last_slot = first_slot + timedelta(seconds=seconds)
    slots = list(
        TickRecord.objects.filter(slot__gte=first_slot, slot__lte=last_slot).values_list(
            "slot", flat=True
        )
    )
    duplicated = sorted(slot for slot, count in Counter(slots).items() if count > 1)
    assert not duplicated, f"slots executed more than once: {duplicated}"
    expected = seconds + 1
    assert len(set(slots)) >= 0.95 * expected, f"only {len(set(slots))} of {expected} slots ran"


def assert_no_lock_errors(processes: Processes) -> None:
    logs = processes.logs()
    assert "database is locked" not in logs, logs[-5000:]


def test_four_scheduler_processes_run_each_slot_once_through_failures(processes):
    """4 ``housekeeping scheduler`` processes for 45 s, with the leader killed (-9), the next one
    stopped for longer than the TTL and resumed, and (on a server database) every database
    connection killed (the runs that start afterwards succeed)."""
    for number in range(4):
        processes.django(f"scheduler-{number}", "housekeeping", "scheduler")
    first = wait_for(first_tick, 60, "the first tick")
    first_slot = first.slot

    # kill -9 the leader: a standby executes within TTL + 2 s.
    wait_for(lambda: TickRecord.objects.count() >= 8, 30, "eight ticks")
    killed_pid = wait_for(leader_between_tick_runs, 10, "a leader between two runs")
    os.kill(killed_pid, signal.SIGKILL)
    killed_at = timezone.now()
    taken_over = wait_for(
        lambda: (
            TickRecord.objects.filter(executed_at__gt=killed_at)
            .exclude(pid=killed_pid)
            .order_by("executed_at")
            .first()
        ),
        LEASE_TTL + 10,
        "a standby to execute after the leader was killed",
    )
    assert (taken_over.executed_at - killed_at).total_seconds() <= LEASE_TTL + 2

    # SIGSTOP the new leader for longer than the TTL, then SIGCONT.
    stopped_pid = wait_for(
        lambda: leader_between_tick_runs(previous=killed_pid),
        LEASE_TTL + 10,
        "a new leader between two runs",
    )
    os.kill(stopped_pid, signal.SIGSTOP)
    stopped_at = timezone.now()
    stopped_monotonic = time.monotonic()
    wait_for(
        lambda: (
            TickRecord.objects.filter(executed_at__gt=stopped_at).exclude(pid=stopped_pid).exists()
        ),
        LEASE_TTL + 10,
        "a standby to take over from the stopped leader",
    )
    wait_for(
        lambda: time.monotonic() - stopped_monotonic > LEASE_TTL + 2,
        LEASE_TTL + 5,
        "the stop to outlast the TTL",
    )
    os.kill(stopped_pid, signal.SIGCONT)
    resumed_at = timezone.now()
    wait_for(
        lambda: TickRecord.objects.filter(slot__gte=resumed_at + timedelta(seconds=3)).exists(),
        15,
        "ticks after the stopped leader resumed",
    )

    # Kill every database connection: the next run still succeeds on time, and no run that
    # started afterwards fails. (A run in the middle of a query when its connection is killed
    # fails, as it should: the kill may land in one, a tick runs every second.)
    if connection.vendor != "sqlite":
        assert kill_database_connections() > 0
        killed_connections_at = timezone.now()
        next_tick = wait_for(
            lambda: (
                TickRecord.objects.filter(slot__gt=killed_connections_at).order_by("slot").first()
            ),
            10,
            "a tick after the connections were killed",
        )
        assert (next_tick.executed_at - next_tick.slot).total_seconds() < 2
        failed = TaskRun.objects.filter(task_name="tick", status=TaskRun.Status.FAILED)
        assert not failed.filter(started_at__gt=killed_connections_at).exists()
        assert failed.count() <= 1  # the run the kill may have landed in, if any

    wait_for(
        lambda: TickRecord.objects.filter(
            slot__gte=first_slot + timedelta(seconds=FAILOVER_SECONDS)
        ).exists(),
        FAILOVER_SECONDS + 30,
        f"{FAILOVER_SECONDS} s of ticks",
    )
    processes.stop_all()

    assert_each_slot_at_most_once_and_most_slots_run(first_slot, FAILOVER_SECONDS)

    # The 2.5 s task scheduled every second never overlapped itself, and the slots it could not
    # take are in the history as skipped.
    slow_runs = list(SlowRecord.objects.order_by("started_at"))
    assert len(slow_runs) >= 5
    for earlier, later in pairwise(slow_runs):
        assert later.started_at >= earlier.finished_at, (earlier.slot, later.slot)
    assert not [s for s, n in Counter(r.slot for r in slow_runs).items() if n > 1]
    assert TaskRun.objects.filter(task_name="slow", status=TaskRun.Status.SKIPPED).exists()

    assert_no_lock_errors(processes)


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def test_gunicorn_with_four_autostarting_workers_runs_each_slot_once(processes):
    port = processes.gunicorn(workers=4, timeout=120)
    url = f"http://127.0.0.1:{port}/whoami/"

    # Autostart is lazy: each worker starts its scheduler on its first request.
    workers_with_scheduler: set[int] = set()

    def four_workers_started() -> bool:
        with ThreadPoolExecutor(8) as pool:
            for answer in pool.map(lambda _: get_json(url), range(16)):
                if answer["scheduler"]:
                    workers_with_scheduler.add(answer["pid"])
        return len(workers_with_scheduler) >= 4

    wait_for(four_workers_started, 60, "four workers with a scheduler")

    first = wait_for(first_tick, 30, "the first tick")
    wait_for(
        lambda: TickRecord.objects.filter(
            slot__gte=first.slot + timedelta(seconds=GUNICORN_SECONDS)
        ).exists(),
        GUNICORN_SECONDS + 30,
        f"{GUNICORN_SECONDS} s of ticks",
    )
    processes.stop("gunicorn")

    assert_each_slot_at_most_once_and_most_slots_run(first.slot, GUNICORN_SECONDS)
    assert set(TickRecord.objects.values_list("pid", flat=True)) <= workers_with_scheduler
    assert_no_lock_errors(processes)


def test_runserver_autoreload_leaves_exactly_one_scheduler(processes, tmp_path):
    # A file only this test's runserver watches (see tests/process_settings.py).
    watched = tmp_path / "autoreload_marker.py"
    watched.write_text('"""Touched to make runserver reload."""\n')
    processes.env = {
        **processes.env,
        "HOUSEKEEPING_PROCESS_WATCHED_MODULE": "autoreload_marker",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), processes.env["PYTHONPATH"]]),
    }
    port = free_port()
    server = processes.django("runserver", "runserver", f"127.0.0.1:{port}")

    def serving_with_scheduler() -> int | None:
        try:
            answer = get_json(f"http://127.0.0.1:{port}/whoami/")
        except OSError:
            return None
        return answer["pid"] if answer["scheduler"] else None

    def wait_until_settled(previous: list[int]) -> int:
        """A new child serves and leads; its file watcher has had time to take its snapshot."""
        pid = wait_for(
            lambda: (pid := leader_pid()) not in (None, *previous) and pid,
            60,
            "a new serving process to lead",
        )
        wait_for(lambda: serving_with_scheduler() == pid, 30, "the new child to serve")
        settled = time.monotonic()
        wait_for(lambda: time.monotonic() - settled > 2, 5, "the watcher's first snapshot")
        return pid

    leaders = [wait_until_settled([])]
    for _ in range(3):
        os.utime(watched)
        leaders.append(wait_until_settled(leaders))

    # The reloader's parent never runs a scheduler; each earlier child is gone.
    assert server.pid not in leaders
    assert [pid for pid in leaders[:-1] if is_alive(pid)] == []
    assert is_alive(leaders[-1])
    answer = get_json(f"http://127.0.0.1:{port}/whoami/")
    assert answer == {"pid": leaders[-1], "scheduler": True}
    assert SchedulerLease.objects.get().pid == leaders[-1]
    assert_no_lock_errors(processes)


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_scheduler_between_its_ticks_and_releases_the_lease(
    processes, stop_signal
):
    """SIGTERM or Ctrl-C stops a leading ``housekeeping scheduler`` process: it stops
    APScheduler, gives the lease up (a standby need not wait for it to expire) and exits 0."""
    scheduler = processes.django("scheduler", "housekeeping", "scheduler")
    wait_for(lambda: leader_pid() == scheduler.pid, 30, "the scheduler to lead")
    wait_for(first_tick, 30, "a tick")

    os.kill(scheduler.pid, stop_signal)

    assert scheduler.wait(20) == 0, processes.logs()
    assert SchedulerLease.objects.get().owner == ""
    assert "Housekeeping scheduler stopped." in processes.logs()


@pytest.mark.parametrize("reload", [False, True], ids=["noreload", "autoreload"])
def test_runserver_stopped_by_sigterm_releases_the_lease(tmp_path, reload):
    """``kill PID`` of the runserver an operator started (the only process with ``--noreload``;
    the autoreloader's parent otherwise, which passes it on to the serving child) stops the
    scheduler and gives the lease up at once: ``status`` shows no dead pid as leader for a TTL."""
    long_ttl = 600.0  # a lease left behind would outlive the test by minutes
    processes = Processes(process_environment(long_ttl), tmp_path)
    try:
        port = free_port()
        options = [] if reload else ["--noreload"]
        server = processes.django("runserver", "runserver", f"127.0.0.1:{port}", *options)
        leader = wait_for(leader_pid, 60, "runserver's scheduler to lead")
        assert (leader != server.pid) is reload  # with autoreload the child serves and leads

        os.kill(server.pid, signal.SIGTERM)

        assert server.wait(30) == 0, processes.logs()
        wait_for(lambda: not is_alive(leader), 10, "the serving child to exit")
        lease = SchedulerLease.objects.get()
        assert lease.owner == "", processes.logs()
        assert lease.expires_at < timezone.now() + timedelta(seconds=long_ttl / 2)
    finally:
        processes.stop_all()
        print(processes.logs())

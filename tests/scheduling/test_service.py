"""The scheduler service in one process: planned jobs, job-store sync, leading and standing by."""

from __future__ import annotations

import io
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from django.core.management import call_command
from django.db import DatabaseError
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.test import override_settings
from django.utils import timezone
from django_apscheduler.models import DjangoJob

from django_housekeeping import cron, every, housekeeping_task, registry
from django_housekeeping.management.commands import housekeeping as command_module
from django_housekeeping.models import RollupGeneration, SchedulerLease, TaskRun, TaskState
from django_housekeeping.monitoring.rollup import CLOSED_DAYS, CLOSED_HISTORY
from django_housekeeping.scheduling import service as scheduler_module
from django_housekeeping.scheduling.executors import SlotExecutor
from django_housekeeping.scheduling.lease import LEASE_NAME, Lease
from django_housekeeping.scheduling.service import (
    JOB_FUNC,
    LeaderScheduler,
    SchedulerService,
    sync_jobs,
)
from django_housekeeping.scheduling.store import HousekeepingJobStore
from django_housekeeping.tasks.plan import PlannedJob, planned_jobs
from tests.helpers import wait_for

BERLIN = ZoneInfo("Europe/Berlin")
FIXTURE_SCHEDULED = {"threads", "record", "nightly"}  # tests/testapp/housekeeping.py


def stored_jobs() -> dict[str, tuple[datetime | None, bytes]]:
    return {
        job_id: (next_run_time, bytes(state))
        for job_id, next_run_time, state in DjangoJob.objects.values_list(
            "id", "next_run_time", "job_state"
        )
    }


@pytest.fixture(autouse=True)
def thread_connections() -> Iterator[list[tuple[threading.Thread, BaseDatabaseWrapper]]]:
    """Every database connection opened outside the test's own thread, closed after the test.

    APScheduler's main-loop thread opens a connection that nothing closes (see
    ``test_the_apscheduler_thread_closes_its_connection``); closing it here keeps the leak from
    surfacing later as a ResourceWarning in an unrelated test.
    """
    opened: list[tuple[threading.Thread, BaseDatabaseWrapper]] = []
    main = threading.current_thread()

    def record(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
        if threading.current_thread() is not main:
            opened.append((threading.current_thread(), connection))

    connection_created.connect(record)
    yield opened
    connection_created.disconnect(record)
    for thread, wrapper in opened:
        thread.join(timeout=5)
        if not thread.is_alive() and wrapper.connection is not None:
            wrapper.connection.close()


@pytest.fixture
def probe_tasks(temporary_tasks: None) -> None:
    @housekeeping_task(name="hourly_probe", schedule=every(hours=1), description="Hourly probe")
    def hourly() -> None:
        return None

    @housekeeping_task(name="daily_probe", schedule=cron("30 2 * * *"))
    def daily() -> None:
        return None


@pytest.fixture
def paused_scheduler() -> Iterator[BackgroundScheduler]:
    """A real APScheduler on the job store, started paused so that nothing fires."""
    scheduler = BackgroundScheduler(
        jobstores={"default": HousekeepingJobStore()},
        executors={"default": SlotExecutor()},
        timezone=BERLIN,
    )
    scheduler.start(paused=True)
    yield scheduler
    scheduler.shutdown(wait=True)


@pytest.fixture
def fast_ticks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scheduler_module, "TICK_SECONDS", 0.1)


# -- planned_jobs ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_planned_jobs_are_the_enabled_scheduled_tasks() -> None:
    planned = planned_jobs()

    assert set(planned) == FIXTURE_SCHEDULED
    for name, plan in planned.items():
        assert isinstance(plan, PlannedJob)
        assert plan.task is registry.get(name)
        assert plan.schedule == plan.task.schedule
    # Manual-only ("no_context", "boom") and disabled ("dormant") tasks are not planned.


@pytest.mark.django_db
def test_planned_jobs_leave_out_disabled_tasks_and_mark_paused_ones(probe_tasks: None) -> None:
    @housekeeping_task(name="off_probe", schedule=every(hours=1), enabled=False)
    def off() -> None:
        return None

    TaskState.objects.create(task_name="daily_probe", paused=True)
    TaskState.objects.create(task_name="hourly_probe", paused=False)

    planned = planned_jobs()

    assert planned["hourly_probe"].paused is False
    # A paused task keeps its job (its slots are recorded skipped), on its own schedule.
    assert planned["daily_probe"].paused is True
    assert planned["daily_probe"].schedule == cron("30 2 * * *")
    assert planned["record"].paused is False  # no state: not paused
    assert "off_probe" not in planned
    with override_settings(HOUSEKEEPING={"TASKS": {"hourly_probe": {"enabled": False}}}):
        assert "hourly_probe" not in planned_jobs()
    with override_settings(HOUSEKEEPING={"TASKS": {"off_probe": {"enabled": True}}}):
        assert "off_probe" in planned_jobs()


@pytest.mark.django_db
def test_a_task_state_schedule_overrides_the_tasks_own(probe_tasks: None) -> None:
    TaskState.objects.create(task_name="daily_probe", schedule="15 4 * * *")
    TaskState.objects.create(task_name="no_context_schedule_probe", schedule="0 5 * * *")

    planned = planned_jobs()

    assert planned["daily_probe"].schedule == cron("15 4 * * *")
    assert planned["hourly_probe"].schedule == every(hours=1)
    assert "no_context_schedule_probe" not in planned  # a state for no registered task


@pytest.mark.django_db
def test_a_task_state_schedule_puts_a_manual_task_on_the_schedule(temporary_tasks: None) -> None:
    @housekeeping_task(name="manual_probe")
    def manual() -> None:
        return None

    assert "manual_probe" not in planned_jobs()
    TaskState.objects.create(task_name="manual_probe", schedule="0 5 * * *")
    assert planned_jobs()["manual_probe"].schedule == cron("0 5 * * *")


@pytest.mark.django_db
def test_an_invalid_task_state_schedule_is_logged_and_skipped(
    probe_tasks: None, caplog: pytest.LogCaptureFixture
) -> None:
    TaskState.objects.create(task_name="daily_probe", schedule="not a cron")

    with caplog.at_level(logging.ERROR, logger="django_housekeeping.scheduler"):
        planned = planned_jobs()

    assert "daily_probe" not in planned
    assert "hourly_probe" in planned
    assert "Not scheduling daily_probe:" in caplog.text
    assert "not a cron" in caplog.text


@pytest.mark.django_db
def test_an_invalid_settings_schedule_is_logged_and_skipped(
    probe_tasks: None, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        override_settings(HOUSEKEEPING={"TASKS": {"daily_probe": {"schedule": "61 * * * *"}}}),
        caplog.at_level(logging.ERROR, logger="django_housekeeping.scheduler"),
    ):
        planned = planned_jobs()

    assert "daily_probe" not in planned
    assert "Not scheduling daily_probe:" in caplog.text


@pytest.mark.django_db
def test_a_settings_schedule_is_planned(probe_tasks: None) -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {"daily_probe": {"schedule": "45 1 * * *"}}}):
        assert planned_jobs()["daily_probe"].schedule == cron("45 1 * * *")


# -- sync_jobs ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sync_adds_a_job_per_planned_task(
    probe_tasks: None, paused_scheduler: BackgroundScheduler
) -> None:
    before = timezone.now()

    sync_jobs(paused_scheduler)

    expected = FIXTURE_SCHEDULED | {"hourly_probe", "daily_probe"}
    assert set(stored_jobs()) == expected
    jobs = {job.id: job for job in paused_scheduler.get_jobs()}
    assert set(jobs) == expected
    hourly = jobs["hourly_probe"]
    assert hourly.func_ref == JOB_FUNC
    assert hourly.args == ("hourly_probe",)
    assert hourly.name == "Hourly probe"
    assert hourly.coalesce is False
    assert hourly.misfire_grace_time is None
    assert hourly.max_instances == 1
    assert jobs["daily_probe"].name == "daily_probe"  # no description: the name
    stored = DjangoJob.objects.get(id="hourly_probe").next_run_time
    assert stored is not None
    assert before < stored <= before + timedelta(hours=1)
    assert stored.timestamp() % 3600 == 0  # whole hours after the epoch
    daily = DjangoJob.objects.get(id="daily_probe").next_run_time
    assert daily is not None
    local = daily.astimezone(BERLIN)
    assert (local.hour, local.minute) == (2, 30) or (local.hour, local.minute) == (3, 30)


@pytest.mark.django_db(transaction=True)
def test_sync_is_idempotent_and_keeps_next_run_times(
    probe_tasks: None, paused_scheduler: BackgroundScheduler
) -> None:
    @housekeeping_task(name="either_day_probe", schedule=cron("0 3 1 * mon"))  # an OrTrigger
    def either() -> None:
        return None

    sync_jobs(paused_scheduler)
    # A slot that fell due while no scheduler ran must survive a sync.
    overdue = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    paused_scheduler.modify_job("hourly_probe", next_run_time=overdue)
    first = stored_jobs()
    assert first["hourly_probe"][0] == overdue

    sync_jobs(paused_scheduler)

    assert stored_jobs() == first


@pytest.mark.django_db(transaction=True)
def test_sync_removes_jobs_of_tasks_gone_or_disabled_and_keeps_paused_ones(
    probe_tasks: None, paused_scheduler: BackgroundScheduler, caplog: pytest.LogCaptureFixture
) -> None:
    @housekeeping_task(name="doomed_probe", schedule=every(minutes=30))
    def doomed() -> None:
        return None

    sync_jobs(paused_scheduler)
    assert {"hourly_probe", "daily_probe", "doomed_probe"} <= set(stored_jobs())
    kept = stored_jobs()["record"]

    daily = stored_jobs()["daily_probe"]

    registry.unregister("doomed_probe")
    TaskState.objects.create(task_name="daily_probe", paused=True)
    with (
        override_settings(HOUSEKEEPING={"TASKS": {"hourly_probe": {"enabled": False}}}),
        caplog.at_level(logging.INFO, logger="django_housekeeping.scheduler"),
    ):
        sync_jobs(paused_scheduler)

    assert set(stored_jobs()) == FIXTURE_SCHEDULED | {"daily_probe"}
    assert stored_jobs()["record"] == kept
    assert stored_jobs()["daily_probe"] == daily  # paused: the job and its next run unchanged
    for name in ("doomed_probe", "hourly_probe"):
        assert f"Removed job {name}" in caplog.text
    assert "Removed job daily_probe" not in caplog.text


@pytest.mark.django_db(transaction=True)
def test_sync_replaces_a_job_whose_schedule_changed(
    probe_tasks: None, paused_scheduler: BackgroundScheduler
) -> None:
    sync_jobs(paused_scheduler)
    before = stored_jobs()
    TaskState.objects.create(task_name="daily_probe", schedule="15 4 * * *")

    sync_jobs(paused_scheduler)

    after = stored_jobs()
    assert set(after) == set(before)
    assert after["hourly_probe"] == before["hourly_probe"]
    assert after["daily_probe"] != before["daily_probe"]
    next_run = after["daily_probe"][0]
    assert next_run is not None
    local = next_run.astimezone(BERLIN)
    assert (local.hour, local.minute) == (4, 15)
    assert next_run - timezone.now() <= timedelta(days=1)
    job = paused_scheduler.get_job("daily_probe")
    assert job.trigger.timezone == BERLIN
    assert "hour='4'" in repr(job.trigger)


@pytest.mark.django_db(transaction=True)
def test_sync_uses_the_tasks_own_time_zone(
    temporary_tasks: None, paused_scheduler: BackgroundScheduler
) -> None:
    @housekeeping_task(name="tokyo_probe", schedule=cron("0 9 * * *", tz="Asia/Tokyo"))
    def tokyo() -> None:
        return None

    sync_jobs(paused_scheduler)

    job = paused_scheduler.get_job("tokyo_probe")
    assert job.trigger.timezone == ZoneInfo("Asia/Tokyo")
    assert paused_scheduler.get_job("threads").trigger.timezone == BERLIN  # settings.TIME_ZONE
    next_run = DjangoJob.objects.get(id="tokyo_probe").next_run_time
    assert next_run is not None
    assert next_run.astimezone(ZoneInfo("Asia/Tokyo")).hour == 9


@pytest.mark.django_db(transaction=True)
def test_sync_replaces_a_job_that_names_another_function(
    probe_tasks: None, paused_scheduler: BackgroundScheduler
) -> None:
    """Jobs stored by an older version (another func_ref) are rewritten."""
    sync_jobs(paused_scheduler)
    paused_scheduler.modify_job("hourly_probe", func="django_housekeeping.running.runner:run_task")

    sync_jobs(paused_scheduler)

    assert paused_scheduler.get_job("hourly_probe").func_ref == JOB_FUNC


@pytest.mark.django_db(transaction=True)
def test_a_slot_due_when_the_scheduler_shuts_down_is_left_for_the_next_leader(
    probe_tasks: None, caplog: pytest.LogCaptureFixture
) -> None:
    scheduler = LeaderScheduler(
        jobstores={"default": HousekeepingJobStore()},
        executors={"default": SlotExecutor()},
        timezone=BERLIN,
    )
    scheduler.start(paused=True)
    try:
        sync_jobs(scheduler)
        overdue = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=5)
        scheduler.modify_job("hourly_probe", next_run_time=overdue)
    finally:
        with caplog.at_level(logging.CRITICAL, logger="apscheduler"):
            scheduler.shutdown(wait=True)

    ran = TaskRun.objects.filter(task_name="hourly_probe", slot=overdue).exists()
    assert ran or DjangoJob.objects.get(id="hourly_probe").next_run_time == overdue


@pytest.mark.django_db(transaction=True)
def test_the_apscheduler_thread_closes_its_connection(
    probe_tasks: None, thread_connections: list[tuple[threading.Thread, BaseDatabaseWrapper]]
) -> None:
    service = SchedulerService(lease_ttl=5.0)
    service.tick()
    service.tick()  # the first tick may only create the lease row
    assert service.is_leader
    wait_for(
        lambda: any(thread.name == "APScheduler" for thread, _ in thread_connections),
        what="APScheduler to query the job store",
    )
    service._stand_by()
    service.lease.release()

    leaked = [
        wrapper
        for thread, wrapper in thread_connections
        if thread.name == "APScheduler" and wrapper.connection is not None
    ]
    assert leaked == []


# -- SchedulerService ---------------------------------------------------------------------------


@pytest.fixture
def service_factory() -> Iterator[Callable[..., SchedulerService]]:
    """Build services; whatever a test started is stopped after it."""
    services: list[SchedulerService] = []

    def build(**kwargs: Any) -> SchedulerService:
        service = SchedulerService(**kwargs)
        services.append(service)
        return service

    yield build
    for service in services:
        service.stop(timeout=10)
    for service in services:
        assert service._thread is None or not service._thread.is_alive()


@pytest.mark.django_db(transaction=True)
def test_the_service_leads_follows_pauses_and_releases(
    probe_tasks: None, fast_ticks: None, service_factory: Callable[..., SchedulerService]
) -> None:
    service = service_factory(lease_ttl=1.0)
    assert not service.is_leader
    service.start()
    assert service.is_running

    wait_for(lambda: service.is_leader, what="the service to lead")
    expected = FIXTURE_SCHEDULED | {"hourly_probe", "daily_probe"}
    wait_for(lambda: set(stored_jobs()) == expected, what="the jobs to be stored")
    lease = SchedulerLease.objects.get(name=LEASE_NAME)
    assert lease.owner == service.lease.owner
    assert lease.token == service.lease.token

    # A paused task keeps its job (its slots are recorded skipped); a new schedule replaces it.
    state = TaskState.objects.create(task_name="hourly_probe", paused=True)
    state.schedule = "15 4 * * *"
    state.save()

    def rescheduled() -> bool:
        next_run = DjangoJob.objects.get(id="hourly_probe").next_run_time
        local = next_run.astimezone(BERLIN) if next_run else None
        return local is not None and (local.hour, local.minute) == (4, 15)

    wait_for(rescheduled, what="the new schedule to be stored")

    service.stop()

    assert not service.is_running
    assert not service.is_leader
    lease = SchedulerLease.objects.get(name=LEASE_NAME)
    assert lease.owner == ""
    assert lease.expires_at <= timezone.now()
    assert set(stored_jobs()) == expected  # the jobs stay for the next leader


@pytest.mark.django_db(transaction=True)
def test_a_standby_takes_over_at_once_when_the_leader_stops(
    probe_tasks: None, fast_ticks: None, service_factory: Callable[..., SchedulerService]
) -> None:
    first = service_factory(lease_ttl=30.0)
    second = service_factory(lease_ttl=30.0)
    ticks: list[bool] = []
    second_tick = second.tick

    def counted_tick() -> None:
        second_tick()
        ticks.append(second._scheduler is not None)

    second.tick = counted_tick  # type: ignore[method-assign]
    first.start()
    wait_for(lambda: first.is_leader, what="the first service to lead")
    second.start()
    wait_for(lambda: len(ticks) >= 3, what="the second service to tick")
    assert not any(ticks)  # it stood by
    assert second.lease.token is None
    assert SchedulerLease.objects.get(name=LEASE_NAME).owner == first.lease.owner

    first.stop()

    wait_for(lambda: second.is_leader, timeout=10, what="the standby to lead")  # not the 30 s TTL
    assert SchedulerLease.objects.get(name=LEASE_NAME).token == 2


@pytest.mark.django_db(transaction=True)
def test_losing_the_lease_stops_apscheduler_and_regaining_it_restarts_it(
    probe_tasks: None, fast_ticks: None, service_factory: Callable[..., SchedulerService]
) -> None:
    service = service_factory(lease_ttl=1.5)
    service.start()
    wait_for(lambda: service.is_leader, what="the service to lead")
    scheduler = service._scheduler
    assert scheduler is not None

    # Another scheduler takes the lease over (as if this one had been stopped past its TTL).
    SchedulerLease.objects.filter(name=LEASE_NAME).update(
        owner="someone-else", token=99, expires_at=timezone.now() + timedelta(minutes=5)
    )

    wait_for(lambda: service._scheduler is None, what="the service to stand by")
    assert not scheduler.running
    assert service.lease.token is None
    assert not service.is_leader
    assert service.is_running  # standing by, not stopped

    # The other scheduler's lease runs out.
    SchedulerLease.objects.filter(name=LEASE_NAME).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    wait_for(lambda: service.is_leader, what="the service to lead again once the lease expired")
    assert service._scheduler is not None
    assert service._scheduler is not scheduler  # a fresh APScheduler
    assert SchedulerLease.objects.get(name=LEASE_NAME).token == 100


@pytest.mark.django_db(transaction=True)
def test_a_database_error_in_a_tick_does_not_kill_the_service(
    probe_tasks: None,
    fast_ticks: None,
    service_factory: Callable[..., SchedulerService],
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = service_factory(lease_ttl=5.0)
    real = service.lease.acquire_or_renew
    failures = iter(range(3))

    def flaky() -> bool:
        if next(failures, None) is not None:
            raise DatabaseError("server closed the connection unexpectedly")
        return real()

    service.lease.acquire_or_renew = flaky  # type: ignore[method-assign]
    with caplog.at_level(logging.WARNING, logger="django_housekeeping.scheduler"):
        service.start()
        wait_for(lambda: service.is_leader, what="the service to lead after the errors")

    assert service.is_running
    assert caplog.text.count("Scheduler tick failed (server closed the connection") == 3


class FakeScheduler:
    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.shut_down = False

    def shutdown(self, wait: bool = True) -> None:
        self.shut_down = True
        if self.fail:
            raise RuntimeError("already stopped")


class FakeLease:
    def __init__(self, error: BaseException, held: bool) -> None:
        self.error = error
        self._held = held
        self.owner = "fake"
        self.ttl = 5.0
        self.renew_every = self.ttl / 3

    def acquire_or_renew(self) -> bool:
        raise self.error

    def held(self) -> bool:
        return self._held


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("held", [True, False])
def test_a_database_error_keeps_leading_only_while_the_lease_is_held(held: bool) -> None:
    service = SchedulerService(lease_ttl=5.0)
    service.lease = FakeLease(DatabaseError("gone"), held=held)  # type: ignore[assignment]
    fake = FakeScheduler()
    service._scheduler = fake  # type: ignore[assignment]

    service.tick()

    assert fake.shut_down is not held
    assert (service._scheduler is fake) is held


@pytest.mark.django_db(transaction=True)
def test_any_other_error_in_a_tick_stands_by_and_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    service = SchedulerService(lease_ttl=5.0)
    service.lease = FakeLease(KeyError("bug"), held=True)  # type: ignore[assignment]
    fake = FakeScheduler(fail=True)  # and a shutdown that raises is tolerated
    service._scheduler = fake  # type: ignore[assignment]

    with caplog.at_level(logging.INFO, logger="django_housekeeping.scheduler"):
        service.tick()

    assert fake.shut_down
    assert service._scheduler is None
    assert "Scheduler tick failed" in caplog.text
    assert "stands by" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_a_failed_release_on_the_way_out_is_logged(
    fast_ticks: None, caplog: pytest.LogCaptureFixture
) -> None:
    service = SchedulerService(lease_ttl=5.0)

    class Unreleasable(FakeLease):
        def release(self) -> None:
            raise DatabaseError("gone")

    service.lease = Unreleasable(DatabaseError("gone"), held=False)  # type: ignore[assignment]
    service._stop.set()
    with caplog.at_level(logging.WARNING, logger="django_housekeeping.scheduler"):
        service.run_forever()  # returns at once: stopped before it began

    assert "Could not release the lease; it expires by itself" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_stop_from_the_service_thread_itself_does_not_join() -> None:
    service = SchedulerService(lease_ttl=5.0)
    service._thread = threading.current_thread()
    service.stop(timeout=0.01)
    assert service._stop.is_set()


@pytest.mark.django_db(transaction=True)
def test_the_service_ticks_often_enough_to_renew_its_lease() -> None:
    service = SchedulerService(lease_ttl=1.0)
    waits: list[float | None] = []

    class RecordingEvent(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            waits.append(timeout)
            self.set()
            return True

    service._stop = RecordingEvent()
    service.tick = lambda: None  # type: ignore[method-assign]
    service.run_forever()

    assert waits
    assert waits[0] is not None
    assert waits[0] <= service.lease.renew_every


@pytest.mark.django_db(transaction=True)
def test_an_overlapping_slot_is_recorded_skipped() -> None:
    slot = datetime.now(UTC).replace(microsecond=0)
    event = JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, "record", "default", [slot])

    SchedulerService._record_overlap(event)

    (row,) = TaskRun.objects.filter(task_name="record")
    assert row.status == TaskRun.Status.SKIPPED
    assert row.slot == slot
    assert row.result["reason"] == "the previous run was still running"


@pytest.mark.django_db(transaction=True)
def test_an_overlap_that_cannot_be_recorded_is_logged(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise DatabaseError("gone")

    monkeypatch.setattr(scheduler_module, "record_unrun_slots", broken)
    event = JobSubmissionEvent(EVENT_JOB_MAX_INSTANCES, "record", "default", [timezone.now()])

    with caplog.at_level(logging.ERROR, logger="django_housekeeping.scheduler"):
        SchedulerService._record_overlap(event)

    assert "Could not record the skipped slot of record" in caplog.text


def test_the_default_lease_ttl_comes_from_the_settings() -> None:
    with override_settings(HOUSEKEEPING={"LEASE_TTL": 12}):
        assert SchedulerService().lease.ttl == 12
    assert SchedulerService(lease_ttl=3).lease.ttl == 3
    assert isinstance(SchedulerService().lease, Lease)


# -- manage.py housekeeping scheduler -------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_scheduler_command_leads_until_sigterm(
    probe_tasks: None, fast_ticks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    services: list[SchedulerService] = []

    class RecordedService(SchedulerService):
        def __init__(self) -> None:
            super().__init__(lease_ttl=5.0)
            services.append(self)

    monkeypatch.setattr(command_module, "SchedulerService", RecordedService)
    package_logger = logging.getLogger("django_housekeeping")
    monkeypatch.setattr(package_logger, "hasHandlers", lambda: False)
    monkeypatch.setattr(package_logger, "handlers", [])
    level = package_logger.level
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGTERM, signal.SIGINT)}
    leader_seen: list[bool] = []

    def send_sigterm_once_leading() -> None:
        wait_for(lambda: services and services[0].is_leader, what="the command to lead")
        leader_seen.append(True)
        os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=send_sigterm_once_leading)
    out = io.StringIO()
    killer.start()
    try:
        call_command("housekeeping", "scheduler", stdout=out)
    finally:
        killer.join(timeout=15)
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        added = package_logger.handlers
        package_logger.setLevel(level)  # also clears the loggers' cached levels

    (service,) = services
    assert leader_seen == [True]
    assert f"Housekeeping scheduler {service.lease.owner}: SIGTERM or Ctrl-C stops it." in (
        out.getvalue()
    )
    assert out.getvalue().rstrip().endswith("Housekeeping scheduler stopped.")
    assert not service.is_leader
    assert SchedulerLease.objects.get(name=LEASE_NAME).owner == ""  # released on the way out
    assert set(stored_jobs()) >= {"hourly_probe", "daily_probe"}
    assert len(added) == 1  # the command logs to stderr when nothing else does
    assert isinstance(added[0], logging.StreamHandler)


@pytest.mark.django_db
def test_the_leader_prunes_the_history_once_an_hour(caplog: pytest.LogCaptureFixture) -> None:
    old = timezone.now() - timedelta(days=100)  # HISTORY_DAYS is 90
    for status in (TaskRun.Status.SUCCEEDED, TaskRun.Status.RUNNING):
        TaskRun.objects.create(
            task_name="record", trigger=TaskRun.Trigger.SCHEDULE, status=status, started_at=old
        )
    service = SchedulerService(lease_ttl=5.0)

    with caplog.at_level(logging.INFO, logger="django_housekeeping.scheduler"):
        service._prune_if_due()

    assert list(TaskRun.objects.values_list("status", flat=True)) == [TaskRun.Status.RUNNING]
    assert "Pruned 1 rows of run history" in caplog.text
    # The statistics' series forget what they kept of closed days (not the rollup's sums).
    assert RollupGeneration.objects.get(name=CLOSED_HISTORY).generation == 1
    assert not RollupGeneration.objects.filter(name=CLOSED_DAYS).exists()
    TaskRun.objects.create(
        task_name="record", trigger=TaskRun.Trigger.SCHEDULE, status="succeeded", started_at=old
    )
    service._prune_if_due()  # within the hour: nothing
    assert TaskRun.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_the_leader_checks_for_overdue_tasks_once_a_minute(
    monkeypatch: pytest.MonkeyPatch, service_factory: Callable[..., SchedulerService]
) -> None:
    checks: list[float] = []
    monkeypatch.setattr(scheduler_module, "check_overdue", lambda: checks.append(time.monotonic()))
    service = service_factory(lease_ttl=5.0)

    service.tick()  # takes the lease and leads
    assert service.is_leader
    assert len(checks) == 1
    service.tick()
    assert len(checks) == 1  # within the minute: not again

    service._overdue_checked_monotonic = time.monotonic() - 61
    service.tick()
    assert len(checks) == 2

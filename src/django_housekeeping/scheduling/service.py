"""The scheduler service: leader election around an APScheduler 3 ``BackgroundScheduler``.

Every process that runs a :class:`SchedulerService` (the ``housekeeping scheduler`` command, or a
serving process through autostart) ticks once a second: it renews or tries to take the lease. The
leader runs APScheduler on django-apscheduler's ``DjangoJobStore`` and keeps the stored jobs in
line with the registry, the settings and the admin's schedule overrides (:class:`TaskState`; a
paused task keeps its job, and its slots are recorded skipped); the others stand by. Losing the
lease stops APScheduler at once. The leader also marks runs whose process died ``interrupted``
(their heartbeat stopped) and retries those whose task says so, gives up runs that waited in the
Tasks framework's queue longer than ``QUEUE_TIMEOUT``, prunes the run history and raises the
overdue alerts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Hashable

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from django.db import DatabaseError, close_old_connections, connection, connections
from django.db.models import Count, Max
from django.utils import timezone

from django_housekeeping import compat
from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import SchedulerLease, TaskRun, TaskState
from django_housekeeping.monitoring.alerts import check_overdue
from django_housekeeping.monitoring.rollup import closed_days_changed
from django_housekeeping.running.heartbeats import fail_lost_runs, mark_interrupted
from django_housekeeping.running.history import prune_history
from django_housekeeping.running.retries import retry_interrupted
from django_housekeeping.scheduling.executors import SlotExecutor
from django_housekeeping.scheduling.lease import Lease
from django_housekeeping.scheduling.slots import record_unrun_slots
from django_housekeeping.scheduling.store import HousekeepingJobStore
from django_housekeeping.tasks.plan import planned_jobs

logger = logging.getLogger("django_housekeeping.scheduler")

TICK_SECONDS = 1.0
# Before `migrate`, the ticks back off up to this many seconds between two tries.
UNMIGRATED_MAX_SECONDS = 60.0
PRUNE_EVERY_SECONDS = 3600.0
OVERDUE_EVERY_SECONDS = 60.0
# The stable entry point the job rows name, whichever release wrote them (see its docstring).
JOB_FUNC = "django_housekeeping.executors:run_scheduled_slot"


def _tables_missing() -> bool:
    """Whether the lease's table is missing (the database before ``migrate``)."""
    try:
        return SchedulerLease._meta.db_table not in connection.introspection.table_names()
    except DatabaseError:
        return False  # the database does not answer: not a missing migration


def sync_jobs(scheduler: BackgroundScheduler) -> None:
    """Make the job store hold exactly the planned jobs; keep unchanged jobs as they are.

    A job whose trigger is unchanged keeps its next run time, so a slot that fell due while no
    scheduler ran is still handled (run within its grace, or recorded as missed). Pausing or
    resuming a task changes no job: its slots are skipped while the task is paused.
    """
    default_tz = timezone.get_default_timezone()
    planned = planned_jobs()
    existing = {job.id: job for job in scheduler.get_jobs()}
    for job_id in existing.keys() - planned.keys():
        scheduler.remove_job(job_id)
        logger.info("Removed job %s", job_id)
    for name, plan in planned.items():
        trigger = plan.schedule.to_trigger(default_tz)
        job = existing.get(name)
        if job is not None and repr(job.trigger) == repr(trigger) and job.func_ref == JOB_FUNC:
            continue
        scheduler.add_job(
            JOB_FUNC,
            trigger=trigger,
            args=[name],
            id=name,
            name=plan.task.description or name,
            replace_existing=True,
            coalesce=False,  # the SlotExecutor applies the task's own coalescing policy
            misfire_grace_time=None,
            max_instances=1,
        )
        logger.info("Scheduled %s: %s%s", name, plan.schedule, " (paused)" if plan.paused else "")


def _state_fingerprint() -> Hashable:
    summary = TaskState.objects.aggregate(changed=Max("updated_at"), count=Count("pk"))
    return (summary["changed"], summary["count"])


class LeaderScheduler(compat.HookedScheduler):
    """APScheduler's background scheduler, made safe to stop and start again with leadership.

    - Once stopped it processes no more jobs: APScheduler 3's loop runs once more after
      ``shutdown()`` and would move a due job's next run time past a slot no executor can run,
      losing the slot for the next leader.
    - Its thread closes the database connection it used (the job store's) when it ends.
    """

    def may_process_jobs(self) -> bool:
        return bool(self.state != STATE_STOPPED)

    def loop_ended(self) -> None:
        connections.close_all()


class SchedulerService:
    """One process's scheduler: leader or standby, decided by the lease."""

    def __init__(self, *, lease_ttl: float | None = None) -> None:
        self.lease = Lease(ttl=lease_ttl or housekeeping_settings.LEASE_TTL)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._scheduler: BackgroundScheduler | None = None
        self._fingerprint: Hashable = None
        self._pruned_monotonic: float | None = None
        self._overdue_checked_monotonic: float | None = None
        # Seconds until the next tick while the tables do not exist yet (0: the normal interval).
        self.unmigrated_wait = 0.0

    @property
    def is_leader(self) -> bool:
        return self._scheduler is not None and self.lease.held()

    @property
    def is_running(self) -> bool:
        return not self._stop.is_set() and (self._thread is None or self._thread.is_alive())

    def start(self) -> None:
        """Run the service in a daemon thread."""
        self._thread = threading.Thread(
            target=self.run_forever, name="housekeeping-scheduler", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def run_forever(self) -> None:
        """Tick until stopped; on the way out stop APScheduler and give the lease up."""
        logger.info("Scheduler %s started; lease TTL %g s", self.lease.owner, self.lease.ttl)
        try:
            # Tick often enough to renew the lease in time, however short its TTL.
            interval = min(TICK_SECONDS, self.lease.renew_every)
            while not self._stop.is_set():
                self.tick()
                self._stop.wait(self.unmigrated_wait or interval)
        finally:
            self._stand_by()
            try:
                self.lease.release()
            except DatabaseError:
                logger.warning("Could not release the lease; it expires by itself")
            close_old_connections()
            logger.info("Scheduler %s stopped", self.lease.owner)

    def tick(self) -> None:
        close_old_connections()
        try:
            leader = self.lease.acquire_or_renew()
            if leader and self._scheduler is None:
                self._lead()
            elif leader:
                self._sync_if_changed()
            if leader:
                # Runs whose process died (their heartbeat stopped) are marked interrupted, which
                # frees their tasks for the next slot; those their task retries run once more.
                # Runs no worker took from the queue in time are given up.
                mark_interrupted()
                fail_lost_runs()
                retry_interrupted()
                self._prune_if_due()
                self._check_overdue_if_due()
        except DatabaseError as exc:
            close_old_connections()
            if _tables_missing():
                self._wait_for_migrate()
                leader = False
            else:
                logger.warning("Scheduler tick failed (%s); retrying", exc)
                leader = self.lease.held()
        except Exception:
            # A bug must not kill the service silently: log it, stand by, try again next tick.
            logger.exception("Scheduler tick failed")
            leader = False
        else:
            if self.unmigrated_wait:
                logger.info("The housekeeping tables exist now: the scheduler goes on")
                self.unmigrated_wait = 0.0
        if not leader and self._scheduler is not None:
            self._stand_by()

    def _wait_for_migrate(self) -> None:
        """Before ``migrate`` (``runserver`` first, say): one line saying what to do, then ticks
        further and further apart, without a line each."""
        if not self.unmigrated_wait:
            logger.warning(
                "The housekeeping tables do not exist: run `python manage.py migrate`. The "
                "scheduler waits for them."
            )
        self.unmigrated_wait = min(
            UNMIGRATED_MAX_SECONDS, max(TICK_SECONDS, self.unmigrated_wait * 2)
        )

    def _lead(self) -> None:
        scheduler = LeaderScheduler(
            jobstores={"default": HousekeepingJobStore()},
            executors={"default": SlotExecutor()},
            timezone=timezone.get_default_timezone(),
            daemon=True,
        )
        scheduler.add_listener(self._record_overlap, EVENT_JOB_MAX_INSTANCES)
        scheduler.start(paused=True)
        self._scheduler = scheduler
        self._fingerprint = _state_fingerprint()
        sync_jobs(scheduler)
        scheduler.resume()
        logger.info("Scheduler %s is the leader", self.lease.owner)

    def _stand_by(self) -> None:
        if self._scheduler is None:
            return
        scheduler, self._scheduler = self._scheduler, None
        try:
            scheduler.shutdown(wait=False)
        except Exception:  # an APScheduler already shutting down: nothing left to stop
            logger.debug("APScheduler was already stopped", exc_info=True)
        logger.info("Scheduler %s stands by", self.lease.owner)

    def _sync_if_changed(self) -> None:
        fingerprint = _state_fingerprint()
        if fingerprint != self._fingerprint and self._scheduler is not None:
            sync_jobs(self._scheduler)
            self._fingerprint = fingerprint

    def _prune_if_due(self) -> None:
        """The leader prunes the run history once an hour (and when it starts leading)."""
        now = time.monotonic()
        if (
            self._pruned_monotonic is not None
            and now - self._pruned_monotonic < PRUNE_EVERY_SECONDS
        ):
            return
        self._pruned_monotonic = now
        pruned = prune_history()
        if pruned:
            closed_days_changed()  # the statistics' series may have lost runs of closed days
            logger.info("Pruned %s rows of run history", pruned)

    def _check_overdue_if_due(self) -> None:
        """The leader raises (and resolves) the overdue alerts once a minute."""
        now = time.monotonic()
        last = self._overdue_checked_monotonic
        if last is not None and now - last < OVERDUE_EVERY_SECONDS:
            return
        self._overdue_checked_monotonic = now
        check_overdue()

    @staticmethod
    def _record_overlap(event: JobSubmissionEvent) -> None:
        """A slot fell due while the task's previous run was still going: record it skipped."""
        close_old_connections()
        try:
            record_unrun_slots(
                event.job_id,
                list(event.scheduled_run_times),
                TaskRun.Status.SKIPPED,
                "the previous run was still running",
            )
        except DatabaseError:
            logger.exception("Could not record the skipped slot of %s", event.job_id)

"""A run executing in a worker of Django's Tasks framework (django-tasks-db's ``db_worker``) is
cancelled the same way: through the database (markers ``processes`` and ``workers``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from django_housekeeping.models import TaskRun
from django_housekeeping.running import control, workers
from tests.helpers import Processes, wait_for
from tests.running.test_cancel_processes import BATCH, THREADS, orphans, processes, seed
from tests.scheduling.test_workers import start_db_workers
from tests.testapp.models import Post, Thread

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.processes,
    pytest.mark.workers,
    pytest.mark.databases("postgres"),
]

__all__ = ["processes"]  # the fixture, shared with the other cancel tests


def test_a_workers_run_is_cancelled_through_the_database(
    processes: Processes, settings: Any
) -> None:
    settings.HOUSEKEEPING = {"EXECUTOR": "django_tasks", "EXECUTOR_BACKEND": "database"}
    processes.env["HOUSEKEEPING_PROCESS_EXECUTOR"] = "database"
    seed()
    now = timezone.now()
    queued = TaskRun.objects.create(  # big_purge is registered in the processes only
        task_name="big_purge",
        trigger="api",
        status="queued",
        started_at=now,
        heartbeat_at=now,
        enqueued_at=now,
        active_task="big_purge",
    )
    workers.enqueue(queued.pk)
    worker_pids = {worker.pid for worker in start_db_workers(processes, count=1)}
    run = wait_for(
        lambda: TaskRun.objects.filter(
            pk=queued.pk, status="running", progress_done__gte=BATCH
        ).first(),
        60,
        "a worker to run the purge's first batch",
    )

    Path(processes.env["HOUSEKEEPING_PROCESS_GATE"]).touch()
    control.cancel(control.SYSTEM, run.pk)

    wait_for(
        lambda: TaskRun.objects.filter(pk=run.pk, status="cancelled").exists(),
        60,
        "the run to end cancelled",
    )
    run.refresh_from_db()
    assert run.pid in worker_pids
    gone = THREADS - Thread.objects.filter(title__startswith="old-").count()
    assert run.result["deleted"] == {"testapp.Post": gone, "testapp.Thread": gone}
    assert 0 <= gone - (run.progress_done or 0) <= BATCH
    assert Post.objects.count() == Thread.objects.count()
    assert orphans() == 0

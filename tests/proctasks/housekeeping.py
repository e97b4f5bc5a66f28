"""Every-second tasks for the multi-process scheduler tests.

Installed only by tests.process_settings, so the rest of the suite never schedules them.
"""

import os
import time

from django.utils import timezone

from django_housekeeping import every, housekeeping_task
from django_housekeeping.models import TaskRun
from tests.procapp.models import SlowRecord, SoloRecord, TickRecord


@housekeeping_task(name="tick", schedule=every(seconds=1), misfire_grace=30, coalesce=False)
def tick(ctx):
    TickRecord.objects.create(
        task_name="tick",
        slot=ctx.now,
        executed_at=timezone.now(),
        pid=os.getpid(),
        ppid=os.getppid(),
    )
    return {"slot": ctx.now}


@housekeeping_task(name="slow", schedule=every(seconds=1), timeout=30)
def slow(ctx):
    started = timezone.now()
    time.sleep(2.5)
    SlowRecord.objects.create(
        slot=ctx.now, started_at=started, finished_at=timezone.now(), pid=os.getpid()
    )


# The tasks of the non-overlap and heartbeat tests. Scheduled only when a test names them in
# HOUSEKEEPING_PROCESS_TASKS, so that the other process tests do not run them.
EXTRA = set(filter(None, os.environ.get("HOUSEKEEPING_PROCESS_TASKS", "").split(",")))
SOLO_SECONDS = 0.5


def _solo(ctx):
    started = timezone.now()
    time.sleep(SOLO_SECONDS)
    SoloRecord.objects.create(
        task_name=ctx.task.name,
        run_id=ctx.run.pk,
        trigger=ctx.run.trigger,
        started_at=started,
        finished_at=timezone.now(),
        pid=os.getpid(),
    )
    return {"pid": os.getpid()}


housekeeping_task(name="solo", destructive=False)(_solo)
housekeeping_task(
    name="solo_sched",
    schedule=every(seconds=1),
    enabled="solo_sched" in EXTRA,
    destructive=False,
    misfire_grace=30,
)(_solo)


@housekeeping_task(
    name="hang", schedule=every(seconds=1), enabled="hang" in EXTRA, misfire_grace=30
)
def hang(ctx):
    """Hangs when started from the command line (to be killed there); quick when scheduled."""
    if ctx.run.trigger == "cli":
        time.sleep(600)
    return {"pid": os.getpid()}


@housekeeping_task(name="slow_api", destructive=False)
def slow_api(ctx):
    """Outlasts the API's MAX_WAIT of the process tests."""
    time.sleep(6)
    return {"done": True}


@housekeeping_task(
    name="crashy", schedule=every(seconds=2), enabled="crashy" in EXTRA, misfire_grace=60
)
def crashy(ctx):
    """The worker tests' crash: the task's first run hangs (for its worker to be killed), every
    later one (a retry, a later slot) is quick. Its retries come from the settings."""
    first = TaskRun.objects.filter(task_name="crashy").order_by("pk").first()
    if first is not None and first.pk == ctx.run.pk:
        time.sleep(600)
    return {"pid": os.getpid(), "attempt": ctx.run.attempt}


@housekeeping_task(name="traced_purge", purge={"batch_size": 2})
def traced_purge(ctx):
    """The tracing test's purge, executed by a worker (tests/scheduling/test_workers_tracing.py)."""
    return ctx.purge(SoloRecord.objects.filter(task_name="traced"))


@housekeeping_task(
    name="big_purge",
    schedule=every(hours=24),
    purge={"batch_size": 100, "archive": False},
)
def big_purge(ctx):
    """The cancel tests' purge (tests/running/test_cancel_processes.py): the "old-" threads and
    their posts, in small batches. With ``HOUSEKEEPING_PROCESS_GATE``, it waits after its first
    batch until that file exists (so that the test sees it running), then goes on."""
    from tests.testapp.models import Thread

    gate = os.environ.get("HOUSEKEEPING_PROCESS_GATE")

    def progress(done, total):
        ctx.progress(done, total)
        deadline = time.monotonic() + 60
        while gate and not os.path.exists(gate) and time.monotonic() < deadline:
            time.sleep(0.01)

    return ctx.purge(Thread.objects.filter(title__startswith="old-"), progress=progress)

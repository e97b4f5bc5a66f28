"""Every-second tasks for the multi-process scheduler tests.

Installed only by tests.process_settings, so the rest of the suite never schedules them.
"""

import os
import time

from django.utils import timezone

from django_housekeeping import every, housekeeping_task
from tests.procapp.models import SlowRecord, TickRecord


@housekeeping_task(name="tick", schedule=every(seconds=1), misfire_grace=30, coalesce=False)
def tick(ctx):
    TickRecord.objects.create(
        task_name="tick", slot=ctx.now, executed_at=timezone.now(), pid=os.getpid()
    )
    return {"slot": ctx.now}


@housekeeping_task(name="slow", schedule=every(seconds=1), timeout=30)
def slow(ctx):
    started = timezone.now()
    time.sleep(2.5)
    SlowRecord.objects.create(
        slot=ctx.now, started_at=started, finished_at=timezone.now(), pid=os.getpid()
    )

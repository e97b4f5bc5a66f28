"""The upgrade test's own tasks, written against the public API both releases share."""

import os
import time
from pathlib import Path

from django_housekeeping import every, housekeeping_task


@housekeeping_task(name="beat", schedule=every(seconds=1), misfire_grace=600, coalesce=False)
def beat(ctx):
    """Every second: each slot is one run, whichever release's leader runs it (a slot that fell
    due while no scheduler ran, during the migration say, runs late: within its grace)."""
    return {"slot": ctx.now}


@housekeeping_task(name="nap", timeout=1)
def nap(ctx):
    """Run by hand: says it started (``UPGRADE_NAP_STARTED`` names a file), then sleeps
    ``UPGRADE_NAP_SECONDS`` (the test kills one such run with SIGKILL)."""
    started = os.environ.get("UPGRADE_NAP_STARTED")
    if started:
        Path(started).write_text(str(os.getpid()))
    time.sleep(float(os.environ.get("UPGRADE_NAP_SECONDS", "0")))
    return {"slept": True}

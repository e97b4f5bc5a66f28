"""Fixture tasks, discovered like any app's housekeeping.py."""

from datetime import timedelta

from django_housekeeping import cron, every, group, housekeeping_task
from tests.testapp.models import SlotRecord, Thread


@housekeeping_task(
    name="threads",
    schedule=cron("0 3 * * sun"),
    options={"days": 30},
    description="Delete threads older than N days",
    tags=["retention"],
)
def delete_old_threads(ctx):
    cutoff = ctx.now - timedelta(days=ctx.options["days"])
    return ctx.purge(Thread.objects.filter(created_at__lt=cutoff))


@housekeeping_task(name="record", schedule=every(hours=6), destructive=False)
def record(ctx):
    SlotRecord.objects.create(task_name="record", now=ctx.now, dry_run=ctx.dry_run)
    return {"threads": Thread.objects.count()}


@housekeeping_task
def no_context():
    return {"ok": True}


@housekeeping_task(name="boom", description="Always fails")
def boom(ctx):
    raise RuntimeError("boom: the database said no")


@housekeeping_task(name="unserializable")
def unserializable():
    return {"value": object()}


@housekeeping_task(name="dormant", enabled=False)
def dormant():
    return {"ran": True}


group("nightly", ["threads", "boom", "record"], schedule="0 2 * * *", description="Nightly")

"""Tables the multi-process scheduler tests write to. No unique constraints, on purpose: the
tests count duplicates themselves."""

from django.db import models

# ruff: noqa: DJ008  (fixture models, never shown)


class TickRecord(models.Model):
    task_name = models.CharField(max_length=100)
    slot = models.DateTimeField()
    executed_at = models.DateTimeField()
    pid = models.PositiveIntegerField()
    # The parent of the executing process: an RQ worker runs each job in a child of its own.
    ppid = models.PositiveIntegerField(null=True)


class SlowRecord(models.Model):
    slot = models.DateTimeField()
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    pid = models.PositiveIntegerField()


class SoloRecord(models.Model):
    """One execution of a task that must never overlap itself: when it really ran, and where."""

    task_name = models.CharField(max_length=100)
    run_id = models.BigIntegerField()
    trigger = models.CharField(max_length=20)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    pid = models.PositiveIntegerField()

"""The scheduler's admin, read-only: who leads it (its lease, to the second) and
django-apscheduler's job store, which the leader keeps in line with the tasks."""

from __future__ import annotations

from datetime import timedelta

# Imported for its registrations, so that they are in place to be replaced below whatever the
# order of INSTALLED_APPS: its admin can run, add and delete jobs behind the library's back.
import django_apscheduler.admin  # noqa: F401
from django.contrib import admin
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from django_housekeeping.admin.base import ReadOnlyForViewers, format_instant
from django_housekeeping.models import SchedulerLease
from django_housekeeping.presenters import describe_effective_schedule
from django_housekeeping.tasks.registry import registry


def format_age(age: timedelta) -> str:
    """``"45 s"``, ``"3 min 5 s"``, ``"2 h 10 min"``, ``"3 d 4 h"``."""
    seconds = max(int(age.total_seconds()), 0)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    if minutes:
        return f"{minutes} min {seconds} s"
    return f"{seconds} s"


@admin.register(SchedulerLease)
class SchedulerLeaseAdmin(ReadOnlyForViewers[SchedulerLease]):
    """Who leads the scheduler, read-only: the lease is the schedulers' business, not a form's."""

    list_display = fields = readonly_fields = (
        "name",
        "owner",
        "host",
        "pid",
        "token",
        "acquired",
        "heartbeat",
        "expires",
        "healthy",
        "lease_age",
    )

    # A lease lasts seconds: its times are shown to the second, not to the minute.

    @admin.display(description=_("acquired"), ordering="acquired_at")
    def acquired(self, lease: SchedulerLease) -> str:
        return format_instant(lease.acquired_at)

    @admin.display(description=_("last heartbeat"), ordering="heartbeat_at")
    def heartbeat(self, lease: SchedulerLease) -> str:
        return format_instant(lease.heartbeat_at)

    @admin.display(description=_("expires"), ordering="expires_at")
    def expires(self, lease: SchedulerLease) -> str:
        """When, and ``"expires in 25 s"`` or ``"expired 3 min 5 s ago"``."""
        left = lease.expires_at - timezone.now()
        if left > timedelta(0):
            relative = _("expires in %(age)s") % {"age": format_age(left)}
        else:
            relative = _("expired %(age)s ago") % {"age": format_age(-left)}
        return f"{format_instant(lease.expires_at)} ({relative})"

    @admin.display(description=_("healthy"), boolean=True)
    def healthy(self, lease: SchedulerLease) -> bool:
        """Held by a scheduler whose lease has not expired."""
        return bool(lease.owner) and lease.expires_at > timezone.now()

    @admin.display(description=_("lease age"))
    def lease_age(self, lease: SchedulerLease) -> str:
        """Time since the holder last renewed the lease."""
        heartbeat = lease.heartbeat_at or lease.acquired_at
        return format_age(timezone.now() - heartbeat) if heartbeat is not None else "—"


# the job store -------------------------------------------------------------------------------

for _model in (DjangoJob, DjangoJobExecution):
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


@admin.register(DjangoJob)
class JobStoreAdmin(ReadOnlyForViewers[DjangoJob]):
    """django-apscheduler's job store, read-only: the scheduler's leader keeps it in line with the
    tasks, so nothing here may run, add or delete a job behind its back (pause, resume and
    reschedule tasks in *Task states*)."""

    list_display = fields = readonly_fields = ("id", "next_run_time", "schedule")
    ordering = ["id"]
    actions = None

    @admin.display(description=_("schedule"))
    def schedule(self, job: DjangoJob) -> str:
        task = registry.as_mapping().get(job.id)
        return describe_effective_schedule(task) if task is not None else "unknown task"

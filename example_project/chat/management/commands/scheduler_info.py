"""``manage.py scheduler_info``: the quick-start's view of the scheduler.

A thin wrapper over the library's ``scheduler_status()`` (the data behind ``manage.py housekeeping
status``, the API and the dashboard), printed in the quick-start's format.
"""

from django.core.management.base import BaseCommand
from django.utils import timezone
from django_housekeeping.presenters import scheduler_status

SEPARATOR = "=" * 80


def _time(value):
    return str(timezone.localtime(value).replace(microsecond=0))


def _next_run(job):
    if job["paused"]:
        return "paused (resume it in the admin)"
    if job["next_run"] is None:
        return "None (no scheduler has planned it yet: start `manage.py runserver`)"
    return _time(job["next_run"])


class Command(BaseCommand):
    help = "Show the scheduler's state and its jobs with their next run times."

    def handle(self, *args, **options):
        status = scheduler_status()
        scheduled = [job for job in status["jobs"] if job["enabled"] and job["trigger"] != "manual"]
        others = [job for job in status["jobs"] if job not in scheduled]
        write = self.stdout.write

        write(f"\n{SEPARATOR}\nAPScheduler Status\n{SEPARATOR}")
        write(f"Scheduler State: {status['state']}")
        if status["leader"]:
            write(f"Leader: {status['leader']['owner']}")
        write(f"Current Time: {_time(status['now'])}")
        write(f"\nTotal Scheduled Jobs: {len(scheduled)}\n{SEPARATOR}")
        for number, job in enumerate(scheduled, 1):
            write(f"\nJob #{number}:")
            write(f"  ID: {job['id']}")
            write(f"  Name: {job['name']}")
            write(f"  Next Run: {_next_run(job)}")
            write(f"  Trigger: {job['trigger']}")
        if others:
            names = ", ".join(
                f"{job['id']} ({'manual' if job['enabled'] else 'disabled'})" for job in others
            )
            write(f"\nNot scheduled: {names}")
        write(SEPARATOR)

"""``manage.py run_housekeeping [--task all|conversations|messages|users|stats]``.

The quick-start's command, kept for the people who learned it: a thin wrapper over the library's
``run_task`` (the same path as the scheduler, the admin and ``manage.py housekeeping run``). Every
run is recorded in the run history with the trigger "cli".
"""

import logging
from contextlib import contextmanager

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django_housekeeping import run_task
from django_housekeeping.models import TaskRun

SEPARATOR = "=" * 60

# --task value -> registered task name: "all" is the Daily Housekeeping group (the cleanups, then
# the statistics, so the statistics count what is left).
TASKS = {
    "all": "daily_housekeeping",
    "conversations": "conversations",
    "messages": "messages",
    "users": "users",
    "stats": "stats",
}

# The seed's "Deleted:" line: task -> (the model whose count it shows, the words after the count).
DELETED = {
    "conversations": ("chat.Conversation", "conversations"),
    "messages": ("chat.Message", "orphaned messages"),
    "users": (settings.AUTH_USER_MODEL, "inactive users"),
}


@contextmanager
def quiet_unless_verbose(verbosity):
    """The report alone on the terminal: the site logs every run at INFO (for the server's
    console), which here would interleave with it; ``-v 2`` shows them, warnings always show."""
    logger = logging.getLogger("django_housekeeping")
    level = logger.level
    if verbosity < 2:
        logger.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        logger.setLevel(level)


class Command(BaseCommand):
    help = "Run the housekeeping tasks now (all of them, or one)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--task",
            choices=list(TASKS),
            default="all",
            help="The task to run; 'all' runs Daily Housekeeping (default).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Only count what would be deleted."
        )

    def handle(self, *args, task, dry_run, **options):
        title = "Running Housekeeping Tasks" + (" (dry run)" if dry_run else "")
        self.stdout.write(f"\n{SEPARATOR}\n{title}\n{SEPARATOR}")
        self.stdout.write("")

        with quiet_unless_verbose(options["verbosity"]):
            run = run_task(TASKS[task], dry_run=dry_run, trigger=TaskRun.Trigger.CLI)
        # A group's result holds each member's outcome; a single task is its own outcome.
        if isinstance(run.result, dict) and "tasks" in run.result:
            outcomes = run.result["tasks"]
        else:
            outcomes = {
                run.task_name: {"run_id": run.pk, "status": run.status, "result": run.result}
            }
        succeeded = {
            name: outcome["result"]
            for name, outcome in outcomes.items()
            if outcome.get("status") == TaskRun.Status.SUCCEEDED
        }

        counts = [
            f"{succeeded[name]['deleted'].get(label, 0)} {words}"
            for name, (label, words) in DELETED.items()
            if name in succeeded
        ]
        if counts:
            verb = "Would delete" if dry_run else "Deleted"
            self.stdout.write(f"{verb}: {', '.join(counts)}")
        if "stats" in succeeded:
            lines = ",\n".join(f"  {key!r}: {value!r}" for key, value in succeeded["stats"].items())
            self.stdout.write(f"Stats: {{\n{lines}\n}}")
        for name, outcome in outcomes.items():
            if outcome.get("status") == TaskRun.Status.SKIPPED:
                reason = outcome.get("reason") or (outcome.get("result") or {}).get("reason", "")
                self.stdout.write(f"Skipped {name}: {reason}")

        self.stdout.write(SEPARATOR)
        if run.status == TaskRun.Status.FAILED:
            failed = [n for n, o in outcomes.items() if o.get("status") == TaskRun.Status.FAILED]
            for name in failed:
                error = TaskRun.objects.filter(pk=outcomes[name].get("run_id")).first()
                self.stderr.write(f"Task {name} failed:\n{error.error if error else ''}")
            raise CommandError(
                f"Housekeeping failed: {', '.join(failed) or run.task_name} "
                f"(run #{run.pk}; see `manage.py housekeeping history`)"
            )
        if run.status == TaskRun.Status.SKIPPED:
            self.stdout.write("Housekeeping skipped: it is already running.")
        else:
            self.stdout.write("Housekeeping completed successfully!")
        self.stdout.write(SEPARATOR)

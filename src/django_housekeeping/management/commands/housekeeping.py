"""``manage.py housekeeping``: list, run, cancel, pause, resume, history, status, scheduler, check,
rebuild, restore, erase."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import DEFAULT_DB_ALIAS, DatabaseError
from django.utils import timezone
from tabulate import tabulate
from tqdm import tqdm

from django_housekeeping.conf.checks import TAG
from django_housekeeping.management import maintenance, runcontrol
from django_housekeeping.management.restore_report import restore_document, restore_lines
from django_housekeeping.models import ErasureRecord, TaskRun
from django_housekeeping.presenters import (
    erasure_as_dict,
    result_details,
    run_as_dict,
    run_summary,
    scheduler_status,
    state_of,
    task_as_dict,
    task_views,
    to_json,
)
from django_housekeeping.purging.archive import ArchiveError, manifest_path
from django_housekeeping.purging.restore import restore
from django_housekeeping.running import control
from django_housekeeping.scheduling.service import SchedulerService
from django_housekeeping.tasks.archive_reach import UnknownReach, archive_reach
from django_housekeeping.tasks.context import TaskContext
from django_housekeeping.tasks.registry import ALL

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_RUNNING = 3  # a task asked for already has a queued or running run
EXIT_HELD = 4  # an erasure legal holds are in the way of: nothing was deleted
MAX_HISTORY_LIMIT = 10_000
# Subcommands that do not use this app's tables: `check` reports the missing tables after the
# system checks; `restore` loads rows of the project's own models (into any --database).
WITHOUT_TABLES = frozenset({"check", "restore"})


class Command(BaseCommand):
    help = "List, run and inspect housekeeping tasks."
    requires_system_checks: list[str] = []  # `housekeeping check` reports them itself

    def add_arguments(self, parser: CommandParser) -> None:
        subcommands = parser.add_subparsers(
            dest="subcommand",
            required=True,
            metavar="{list,run,cancel,pause,resume,history,status,scheduler,check,rebuild,restore,"
            "erase}",
        )

        def add(name: str, help_text: str) -> argparse.ArgumentParser:
            subparser: argparse.ArgumentParser = subcommands.add_parser(
                name, help=help_text, description=help_text
            )
            subparser.add_argument(
                "--json", action="store_true", help="Print machine-readable JSON."
            )
            return subparser

        add("list", "List the registered tasks, their schedules and last runs.")

        run = add("run", "Run tasks now (a task, a group, or all).")
        run.add_argument("names", nargs="*", metavar="NAME", help="Task or group names.")
        run.add_argument("--all", action="store_true", help="Run every enabled task.")
        run.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        run.add_argument(
            "--force",
            action="store_true",
            help="Let purges exceed their max_rows / max_fraction limits.",
        )
        run.add_argument(
            "--via-executor",
            action="store_true",
            help="Enqueue the runs for the workers of Django's Tasks framework (EXECUTOR "
            '"django_tasks") and return at once, instead of running them in this process.',
        )

        cancel = add(
            "cancel",
            "Cancel a run: a queued one before it starts, a running one at its next progress "
            "step (exit 3 when it is no longer active).",
        )
        cancel.add_argument("run_id", metavar="RUN_ID", help="The run's id.")
        pause = add("pause", "Pause a task: the scheduler stops scheduling it.")
        pause.add_argument("name", metavar="NAME", help="A task or group name.")
        resume = add("resume", "Resume a paused task: the scheduler schedules it again.")
        resume.add_argument("name", metavar="NAME", help="A task or group name.")

        history = add("history", "Show recent runs.")
        history.add_argument("--task", help="Only runs of this task.")
        history.add_argument(
            "--status", choices=TaskRun.Status.values, help="Only runs with this status."
        )
        history.add_argument(
            "--limit", type=int, default=20, help="How many runs to show (default 20)."
        )

        add("status", "Show the scheduler's leader and jobs; exit 1 if no scheduler leads.")

        subcommands.add_parser(
            "scheduler",
            help="Run the scheduler in the foreground (the dedicated production process).",
            description="Run the scheduler in the foreground until SIGTERM or SIGINT. Any "
            "number of these may run: one leads, the others stand by.",
        )

        check = add(
            "check",
            "The system checks and the health: exit 1 if no scheduler runs, a task is overdue, "
            "a last run failed or was interrupted, or a check fails (--config and --live judge "
            "one side of it).",
        )
        scope = check.add_mutually_exclusive_group()
        scope.add_argument(
            "--config",
            action="store_true",
            help="Only the configuration (the system checks): exit 1 on an error. Needs no "
            "scheduler and no table: a release-phase gate.",
        )
        scope.add_argument(
            "--live",
            action="store_true",
            help="Only the liveness: exit 1 if tasks are scheduled and no scheduler runs.",
        )

        add(
            "rebuild",
            "Recompute the daily rollup (the metrics' counters and the statistics) from the "
            "history, after it was edited by hand.",
        )

        restore = add("restore", "Load the rows of a purge archive back into the database.")
        restore.add_argument("file", metavar="FILE", help="An archive (.jsonl.gz) a purge wrote.")
        restore.add_argument(
            "--database", default=DEFAULT_DB_ALIAS, help='The database to load into ("default").'
        )
        restore.add_argument(
            "--force",
            action="store_true",
            help="Restore an archive without a manifest (written before manifests), holding only "
            "models the purge of its task could reach (logged as a warning). An archive whose "
            "manifest does not verify is refused all the same.",
        )
        restore.add_argument(
            "--task",
            metavar="NAME",
            help="With --force: the task whose purge wrote the archive (default: the task its "
            "file name names).",
        )
        restore.add_argument(
            "--overwrite",
            action="store_true",
            help="Rewrite the rows present with other values than archived (edited since the "
            "purge) with the archived values; by default they are kept as they are.",
        )

        erase = add(
            "erase",
            "Carry out an erasure request: delete one row and what cascades from it, refused "
            "when a legal hold is in the way, recorded as an erasure record.",
        )
        erase.add_argument("model", metavar="app_label.Model", help="The row's model.")
        erase.add_argument("pk", metavar="PK", help="The row's primary key.")
        erase.add_argument("--reason", help="Why (required; kept in the erasure record).")
        erase.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )

    def handle(self, *args: Any, subcommand: str, **options: Any) -> None:
        if subcommand != "check" and not options.get("skip_checks"):
            # The library's system checks first, as Django's own commands run theirs: a
            # configuration error stops the subcommand in one block (SystemCheckError).
            self.check(tags=[TAG])
        if subcommand not in WITHOUT_TABLES:
            maintenance.require_tables()
        getattr(self, f"handle_{subcommand}")(**options)

    # list ---------------------------------------------------------------------------------------

    def handle_list(self, *, json: bool, **options: Any) -> None:
        views = task_views()
        if json:
            self._print_json([task_as_dict(view) for view in views])
            return
        rows = [
            [
                view.task.name,
                view.schedule,
                state_of(view),
                ", ".join(view.task.after) or "",
                f"{view.last_run.status} "
                f"{timezone.localtime(view.last_run.started_at):%Y-%m-%d %H:%M}"
                if view.last_run
                else "never",
                view.task.description
                or (", ".join(view.task.members) if view.task.members else ""),
            ]
            for view in views
        ]
        self.stdout.write(
            tabulate(
                rows, headers=["Task", "Schedule", "State", "After", "Last run", "Description"]
            )
            if rows
            else "No housekeeping tasks are registered."
        )

    # cancel, pause, resume -----------------------------------------------------------------------

    def handle_cancel(self, *, run_id: str, json: bool, **options: Any) -> None:
        runcontrol.cancel(self.stdout, run_id, json=json)

    def handle_pause(self, *, name: str, json: bool, **options: Any) -> None:
        runcontrol.set_paused(self.stdout, name, paused=True, json=json)

    def handle_resume(self, *, name: str, json: bool, **options: Any) -> None:
        runcontrol.set_paused(self.stdout, name, paused=False, json=json)

    # run ----------------------------------------------------------------------------------------

    def handle_run(
        self,
        *,
        names: list[str],
        all: bool,
        dry_run: bool,
        json: bool,
        force: bool = False,
        via_executor: bool = False,
        **options: Any,
    ) -> None:
        if all:
            names = [*names, ALL]
        if not names:
            raise CommandError("name at least one task, or use --all", returncode=EXIT_USAGE)
        if via_executor:
            self._enqueue_runs(names, dry_run=dry_run, force=force, json=json)
            return
        bar = ProgressBars(self.stdout) if self.stdout.isatty() and not json else None
        try:
            outcome = control.run_here(
                control.SYSTEM,
                names,
                dry_run=dry_run,
                force=force,
                progress=bar.update if bar is not None else None,
                notes=bar.note if bar is not None else None,
                after_each=(lambda run: bar.finish()) if bar is not None else None,
            )
        except control.ControlError as exc:
            raise CommandError(exc.message, returncode=EXIT_USAGE) from None
        runs = outcome.runs
        if json:
            # A group's members are in the output too, so a failed member's traceback is not lost.
            self._print_json(
                [
                    {**run_as_dict(run), "children": [run_as_dict(c) for c in _children(run)]}
                    for run in runs
                ]
            )
        else:
            for run in runs:
                self._print_run(run)
        failed = [run.task_name for run in runs if run.status == TaskRun.Status.FAILED]
        if failed:
            for conflict in outcome.conflicts:
                self.stderr.write(conflict.message)
            raise CommandError(f"failed: {', '.join(failed)}", returncode=EXIT_FAILED)
        if outcome.conflicts:
            for conflict in outcome.conflicts[:-1]:
                self.stderr.write(conflict.message)
            raise CommandError(outcome.conflicts[-1].message, returncode=EXIT_RUNNING)

    def _enqueue_runs(self, names: list[str], *, dry_run: bool, force: bool, json: bool) -> None:
        """``run --via-executor``: record the runs ``queued`` and enqueue them; do not wait."""
        if force:
            raise CommandError(
                "--force applies to runs in this process only; it cannot go with --via-executor",
                returncode=EXIT_USAGE,
            )
        try:
            dispatched = control.enqueue(control.SYSTEM, names, dry_run=dry_run)
        except control.Conflict as exc:
            raise CommandError(exc.message, returncode=EXIT_RUNNING) from None
        except control.ControlError as exc:
            raise CommandError(exc.message, returncode=EXIT_USAGE) from None
        # The enqueueing happened as the runs were recorded; one that failed is failed by now.
        runs = [item.run for item in dispatched]
        for run in runs:
            run.refresh_from_db()
        if json:
            self._print_json([run_as_dict(run) for run in runs])
        else:
            for run in runs:
                state = "enqueued" if run.status != TaskRun.Status.FAILED else "NOT enqueued"
                self.stdout.write(f"{run.task_name}: run #{run.pk} {state} ({run.status})")
        failed = [run for run in runs if run.status == TaskRun.Status.FAILED]
        if failed:
            for run in failed:
                self.stderr.write(run.error)
            raise CommandError(
                f"failed: {', '.join(run.task_name for run in failed)}", returncode=EXIT_FAILED
            )

    def _print_run(self, run: TaskRun) -> None:
        children = _children(run)
        # tabulate strips leading spaces, so a member row is marked with a visible "- ".
        rows = [self._run_row(child, prefix="- ") for child in children]
        rows.append(self._run_row(run))
        self.stdout.write(
            tabulate(rows, headers=["Task", "Status", "Seconds", "Result"], disable_numparse=True)
        )
        for each in [*children, run]:
            self._print_purge(each)
        for failed in [*children, run]:
            if failed.error:
                self.stderr.write(f"\n{failed.task_name} failed:\n{failed.error}")

    def _print_purge(self, run: TaskRun) -> None:
        """A purge's rows per model, when the one line cannot say it all: more than one model,
        rows kept (protected or held), an archive file."""
        details = result_details(run)
        if details["kind"] != "purge":
            return
        models = details["models"]
        kept = any(row["protected"] or row["held"] for row in models)
        if len(models) <= 1 and not kept and not details["archive"] and not details["partitions"]:
            return
        self.stdout.write(f"\n{run.task_name}:")
        if models:
            self.stdout.write(
                tabulate(
                    [
                        [row["model"], row["deleted"], row["protected"], row["held"]]
                        for row in models
                    ],
                    headers=["Model", details["verb"].capitalize(), "Protected", "Held"],
                )
            )
        for partition in details["partitions"]:
            self.stdout.write(partition["line"][:1].upper() + partition["line"][1:])
        if details["archive"]:
            self.stdout.write(f"Archive: {details['archive']}")

    def _run_row(self, run: TaskRun, prefix: str = "") -> list[str]:
        status = run.status + (" (dry run)" if run.dry_run else "")
        seconds = f"{run.duration_seconds:.2f}" if run.duration_seconds is not None else ""
        return [prefix + run.task_name, status, seconds, run_summary(run)]

    # history ------------------------------------------------------------------------------------

    def handle_history(
        self, *, task: str | None, status: str | None, limit: int, json: bool, **options: Any
    ) -> None:
        if not 1 <= limit <= MAX_HISTORY_LIMIT:
            raise CommandError(
                f"--limit must be between 1 and {MAX_HISTORY_LIMIT}", returncode=EXIT_USAGE
            )
        runs = TaskRun.objects.select_related("triggered_by")
        if task is not None:
            try:
                runs = runs.filter(task_name=control.run_history_task(task))
            except control.ControlError as exc:
                raise CommandError(exc.message, returncode=EXIT_USAGE) from None
        if status:
            runs = runs.filter(status=status)
        selected = list(runs[:limit])
        if json:
            self._print_json([run_as_dict(run) for run in selected])
            return
        rows = [
            [
                run.pk,
                run.task_name,
                run.status + (" (dry run)" if run.dry_run else ""),
                run.trigger,
                f"{timezone.localtime(run.started_at):%Y-%m-%d %H:%M:%S}",
                f"{run.duration_seconds:.2f}" if run.duration_seconds is not None else "",
                run_summary(run),
            ]
            for run in selected
        ]
        self.stdout.write(
            tabulate(
                rows,
                headers=["Run", "Task", "Status", "Trigger", "Started", "Seconds", "Result"],
                disable_numparse=True,
            )
            if rows
            else "No runs recorded yet."
        )

    # status -------------------------------------------------------------------------------------

    def handle_status(self, *, json: bool, **options: Any) -> None:
        status = scheduler_status()
        if json:
            self._print_json(status)
        else:
            leader = status["leader"]
            if leader is None:
                self.stdout.write("Scheduler: stopped (no scheduler has taken the lease)")
            else:
                self.stdout.write(
                    f"Scheduler: {status['state']} (leader {leader['host']} pid {leader['pid']}, "
                    f"lease age {leader['lease_age_seconds']:.1f} s, token {leader['token']})"
                )
            # The leader runs the job store's schedule; with no stored job, the configured one.
            # A difference from this process's settings is marked only while there is a leader.
            differs = [job for job in status["jobs"] if leader and job["schedule_differs"]]
            rows = [
                [
                    job["id"],
                    (job["leader_trigger"] or job["trigger"]) + (" *" if job in differs else ""),
                    _local(job["next_run"]) if job["next_run"] else "—",
                    "paused" if job["paused"] else ("yes" if job["enabled"] else "disabled"),
                    _last_outcome(job["last_run"]),
                ]
                for job in status["jobs"]
            ]
            self.stdout.write(
                tabulate(
                    rows,
                    headers=["Task", "Trigger", "Next run", "Active", "Last run"],
                    disable_numparse=True,
                )
            )
            if differs:
                self.stdout.write(
                    "\n* The scheduler runs what its job store holds; this process's settings "
                    "say otherwise (not deployed to the scheduler process yet?):"
                )
                for job in differs:
                    self.stdout.write(
                        f"  {job['id']}: the leader runs {job['leader_trigger'] or 'nothing'}, "
                        f"these settings say {job['trigger']}"
                    )
        if not status["healthy"]:
            raise CommandError(f"the scheduler is {status['state']}", returncode=EXIT_FAILED)

    # scheduler ----------------------------------------------------------------------------------

    def handle_scheduler(self, **options: Any) -> None:
        package_logger = logging.getLogger("django_housekeeping")
        if options["verbosity"] > 0 and not package_logger.hasHandlers():
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            package_logger.addHandler(handler)
            package_logger.setLevel(logging.INFO)
        service = SchedulerService()
        self.stdout.write(
            f"Housekeeping scheduler {service.lease.owner}: SIGTERM or Ctrl-C stops it."
        )
        self.stdout.flush()
        if hasattr(signal, "sigtimedwait"):
            _serve_until_signalled(service)
        else:  # no POSIX signal masks (Windows): stop from a handler
            for stop_signal in STOP_SIGNALS:
                signal.signal(stop_signal, lambda signum, frame: service.stop())
            service.run_forever()
        self.stdout.write("Housekeeping scheduler stopped.")

    # check --------------------------------------------------------------------------------------

    def handle_check(self, *, json: bool, config: bool, live: bool, **options: Any) -> None:
        scope = maintenance.CONFIG if config else maintenance.LIVE if live else maintenance.FULL
        maintenance.check(self.stdout, scope=scope, json=json)

    # rebuild ------------------------------------------------------------------------------------

    def handle_rebuild(self, *, json: bool, **options: Any) -> None:
        maintenance.rebuild(self.stdout, json=json)

    # restore ------------------------------------------------------------------------------------

    def handle_restore(
        self,
        *,
        file: str,
        database: str,
        json: bool,
        force: bool,
        overwrite: bool,
        task: str | None,
        **options: Any,
    ) -> None:
        # Every refusal and every malformed archive is one line on stderr and exit status 1.
        bar = ProgressBars(self.stderr) if self.stderr.isatty() and not json else None
        try:
            # --force admits only an archive without a manifest: the reach of its task's purge.
            reach = (
                archive_reach(file, task) if force and not manifest_path(file).exists() else None
            )
            stats = restore(
                file,
                using=database,
                force=force,
                reach=reach,
                overwrite=overwrite,
                progress=bar.restore_update if bar is not None else None,
            )
        except ArchiveError as exc:  # its message starts with the file
            raise CommandError(f"cannot restore {exc}", returncode=EXIT_FAILED) from None
        except UnknownReach as exc:
            raise CommandError(f"cannot restore {file}: {exc}", returncode=EXIT_FAILED) from None
        except OSError as exc:
            reason = exc.strerror if exc.strerror and exc.filename == file else exc
            raise CommandError(f"cannot restore {file}: {reason}", returncode=EXIT_FAILED) from None
        except (ValueError, DatabaseError) as exc:
            reason = " ".join(str(exc).split())
            raise CommandError(f"cannot restore {file}: {reason}", returncode=EXIT_FAILED) from None
        finally:
            if bar is not None:
                bar.finish()
        if json:
            self._print_json(restore_document(file, stats))
        else:
            for line in restore_lines(file, stats, overwrite=overwrite):
                self.stdout.write(line)
        if stats.truncated:
            self.stderr.write(
                f"The last batch of {file} is incomplete (or not covered by its manifest): the "
                "purge that wrote it was interrupted before that batch was deleted, so its rows "
                "are still in the database and were skipped."
            )

    # erase --------------------------------------------------------------------------------------

    def handle_erase(
        self, *, model: str, pk: str, reason: str | None, dry_run: bool, json: bool, **options: Any
    ) -> None:
        """Exit 0 erased (or previewed); 2 bad input or an unknown model; 1 no such row (or a
        key that is no key of the model) or kept by a protection;
        4 refused by a legal hold. Every refusal is one line on stderr."""
        if not (reason or "").strip():
            raise CommandError(
                'give the reason: --reason "..." (it is kept in the erasure record)',
                returncode=EXIT_USAGE,
            )
        try:
            record = control.erase(control.SYSTEM, model, pk, reason=reason, dry_run=dry_run)
        except control.Held as exc:
            raise CommandError(exc.message, returncode=EXIT_HELD) from None
        except control.UnknownModel as exc:
            raise CommandError(exc.message, returncode=EXIT_USAGE) from None
        except control.NotFound as exc:
            raise CommandError(exc.message, returncode=EXIT_FAILED) from None
        except control.ControlError as exc:
            raise CommandError(exc.message, returncode=EXIT_USAGE) from None
        if json:
            self._print_json(erasure_as_dict(record))
        else:
            verb = "Would delete" if record.dry_run else "Deleted"
            counts = ", ".join(
                f"{label} {count:,}" for label, count in sorted(record.deleted.items())
            )
            total = sum(record.deleted.values())
            self.stdout.write(
                f"{verb} {total:,} row{'' if total == 1 else 's'}"
                + (f" ({counts})" if counts else "")
                + f" erasing {record.model} {record.object_pk}; erasure record #{record.pk}."
            )
        if record.status == ErasureRecord.Status.PROTECTED:
            kept = ", ".join(
                f"{label} {count}" for label, count in sorted(record.protected.items())
            )
            raise CommandError(
                f"{record.model} {record.object_pk} was kept: a PROTECT or RESTRICT relation "
                f"forbids deleting it ({kept})",
                returncode=EXIT_FAILED,
            )

    def _print_json(self, value: Any) -> None:
        self.stdout.write(to_json(value, indent=2))


class ProgressBars:
    """tqdm progress bars (only ever drawn on a terminal): one line per thing that reports
    progress — each run of a ``run`` (so each member of a group gets its own), each phase of a
    ``restore`` (validating, then restoring)."""

    def __init__(self, stream: OutputWrapper) -> None:
        self.stream = _Unterminated(stream)
        self.bar: tqdm[Any] | None = None
        self.key: Any = None

    def show(self, key: Any, description: str, done: int, total: int | None) -> None:
        """Draw ``done`` of ``total``: on the current line while ``key`` is the same, else on a
        new one."""
        if self.bar is None or key != self.key:
            self.finish()
            self.bar = tqdm(
                total=total, desc=description, unit=" rows", file=self.stream, mininterval=0.1
            )
            self.key = key
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def update(self, ctx: TaskContext, done: int, total: int | None) -> None:
        """A run's progress (``observe_progress``'s observer)."""
        self.show(ctx.run.pk, ctx.task.name, done, total)

    def note(self, ctx: TaskContext, message: str | None) -> None:
        """What a run says while it does not progress (``ctx.note``), after its bar: ``paused:
        replica lag 7 s (replica)``; ``None`` clears it."""
        if self.bar is None or self.key != ctx.run.pk:
            self.show(ctx.run.pk, ctx.task.name, ctx.run.progress_done or 0, ctx.run.progress_total)
        assert self.bar is not None
        self.bar.set_postfix_str(message or "")

    def restore_update(self, phase: str, done: int, total: int | None) -> None:
        """A restore's progress (``restore(progress=...)``)."""
        self.show(phase, phase, done, total)

    def finish(self) -> None:
        """Close the current bar (its final state stays on the screen, on a line of its own)."""
        if self.bar is not None:
            self.bar.close()
        self.bar = None


class _Unterminated:
    """The command's stdout as tqdm needs it: written as it is (no line ending added)."""

    def __init__(self, stdout: OutputWrapper) -> None:
        self.stdout = stdout

    def write(self, text: str) -> None:
        self.stdout.write(text, ending="")

    def flush(self) -> None:
        self.stdout.flush()


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def _serve_until_signalled(service: SchedulerService) -> None:
    """Run the service in its thread until SIGTERM or SIGINT, then stop it and release the lease.

    The stop signals are blocked in every thread (the service's threads inherit the mask) and
    taken here with ``sigtimedwait``: no handler interrupts the service's code, where it could
    deadlock on a lock the interrupted code holds (``threading.Event``'s, say).
    """
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        service.start()
        while service.is_running and signal.sigtimedwait(STOP_SIGNALS, 1.0) is None:
            pass
    finally:
        service.stop()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)


def _children(run: TaskRun) -> list[TaskRun]:
    """A group run's member runs, in the order they ran."""
    return list(run.children.select_related("triggered_by").order_by("started_at", "id"))


def _local(moment: Any) -> str:
    return f"{timezone.localtime(moment):%Y-%m-%d %H:%M:%S %Z}"


def _last_outcome(run: dict[str, Any] | None) -> str:
    if run is None:
        return "never"
    return f"{run['status']} {_local(run['started_at'])}"

"""``housekeeping check`` (the whole health, the configuration only, or the liveness only) and
``housekeeping rebuild`` (the history-derived counters, from the history): the command parses,
these present.

- ``check`` (the default, as in 0.1): the system checks and the health — exit 1 if no scheduler
  runs, a task is overdue, a last run failed or was interrupted, or a check fails.
- ``check --config``: the configuration only — exit 1 if a ``django_housekeeping`` system check
  reports an error; no scheduler, no history and no table needed (a release-phase gate, run
  before ``migrate`` or before any scheduler starts).
- ``check --live``: the liveness only — exit 1 if tasks are scheduled and no scheduler leads.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import CommandError, OutputWrapper
from django.utils import timezone

from django_housekeeping.management.tables import missing_tables
from django_housekeeping.monitoring import rollup
from django_housekeeping.monitoring.health import (
    CHECK,
    Health,
    health,
    housekeeping_messages,
    live_leader,
    scheduler_problems,
)
from django_housekeeping.presenters import to_json
from django_housekeeping.tasks.plan import planned_jobs

EXIT_FAILED = 1
FULL, CONFIG, LIVE = "full", "config", "live"


def require_tables() -> None:
    """One line and exit status 1 before ``migrate``, not a database error's traceback."""
    missing = missing_tables()
    if missing:
        raise CommandError(
            f"the housekeeping tables do not exist ({', '.join(missing)}): "
            "run `python manage.py migrate` first",
            returncode=EXIT_FAILED,
        )


def check(stdout: OutputWrapper, *, scope: str, json: bool) -> None:
    """Print what ``scope`` judges; raise ``CommandError`` (exit 1) when it finds a problem."""
    messages = housekeeping_messages(tagged_only=False) if scope != LIVE else []
    if not json:
        # The checks' own lines first (errors and warnings, with hints): they need no table.
        for message in messages:
            stdout.write(
                f"{message.id}: {message.msg}"
                + (f"\n    HINT: {message.hint}" if message.hint else "")
            )
    checks = [{"id": m.id, "level": m.level, "msg": m.msg, "hint": m.hint} for m in messages]
    if scope == CONFIG:
        errors = [message for message in messages if message.is_serious()]
        if json:
            stdout.write(to_json({"status": "invalid" if errors else "ok", "checks": checks}))
        elif not errors:
            stdout.write("The housekeeping configuration is valid.")
        if errors:
            count = len(errors)
            raise CommandError(
                f"the housekeeping configuration is invalid: {count} "
                f"error{'' if count == 1 else 's'}",
                returncode=EXIT_FAILED,
            )
        return
    require_tables()
    if scope == LIVE:
        now = timezone.now()
        state = Health(tuple(scheduler_problems(planned_jobs(), live_leader(now))), now)
    else:
        state = health(messages=messages)
    if json:
        extra = {} if scope == LIVE else {"checks": checks}  # liveness runs no check
        stdout.write(to_json({**state.as_dict(), **extra}))
    else:
        for problem in state.problems:
            if problem.code != CHECK:  # a failing check's line is above
                stdout.write(f"{problem.code}: {problem.message}")
        if state.healthy:
            stdout.write("A scheduler is running." if scope == LIVE else "Housekeeping is healthy.")
    if not state.healthy:
        count = len(state.problems)
        what = "not live" if scope == LIVE else "unhealthy"
        raise CommandError(
            f"housekeeping is {what}: {count} problem{'' if count == 1 else 's'}",
            returncode=EXIT_FAILED,
        )


def rebuild(stdout: OutputWrapper, *, json: bool) -> None:
    """Recompute the daily rollup (the metrics' counters and the statistics) from the history as
    it is now (after it was edited by hand, say)."""
    require_tables()
    rollup.rebuild()
    summary: dict[str, Any] = {"rebuilt": ["daily rollup"]}
    if json:
        stdout.write(to_json(summary))
    else:
        stdout.write(
            "Rebuilt the daily rollup (the metrics' counters and the statistics) from the history."
        )

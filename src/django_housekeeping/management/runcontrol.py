"""``housekeeping cancel RUN_ID``, ``pause NAME`` and ``resume NAME``: the command parses, the
control layer decides (the command line acts as the system), these present — one line, or JSON.

Exit statuses: 0 done (or nothing to do); 2 an unknown task or run id; 3 (``cancel``) the run is
no longer queued or running, or was already asked to stop.
"""

from __future__ import annotations

from django.core.management.base import CommandError, OutputWrapper

from django_housekeeping.presenters import run_as_dict, to_json
from django_housekeeping.running import control

EXIT_USAGE = 2
EXIT_NOT_ACTIVE = 3


def cancel(stdout: OutputWrapper, run_id: str, *, json: bool) -> None:
    """Cancel the run ``run_id``: a queued run at once, a running one at its next progress
    step."""
    try:
        done = control.cancel(control.SYSTEM, run_id)
    except control.NotActive as exc:
        raise CommandError(exc.message, returncode=EXIT_NOT_ACTIVE) from None
    except control.ControlError as exc:
        raise CommandError(exc.message, returncode=EXIT_USAGE) from None
    if json:
        stdout.write(
            to_json(
                {"detail": done.detail, "ended": done.ended, "run": run_as_dict(done.run)},
                indent=2,
            )
        )
    else:
        stdout.write(done.detail)


def set_paused(stdout: OutputWrapper, name: str, *, paused: bool, json: bool) -> None:
    """Pause or resume ``name``. Resuming starts the task's work: running the command is its
    confirmation, as calling the API is (docs/permissions.md#starting-destructive-work)."""
    try:
        change = control.set_state(control.SYSTEM, name, paused=paused, confirmed=True)
    except control.ControlError as exc:
        raise CommandError(exc.message, returncode=EXIT_USAGE) from None
    if json:
        stdout.write(
            to_json(
                {
                    "task": change.task,
                    "paused": change.paused,
                    "changed": change.changed,
                    "detail": change.detail,
                },
                indent=2,
            )
        )
    else:
        stdout.write(change.detail)

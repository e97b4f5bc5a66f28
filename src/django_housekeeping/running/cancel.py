"""Cancelling a run: the request stored on the run, and how a stopped run ends.

:func:`request` is what the control layer calls (``control.cancel``): a ``queued`` run is ended
``cancelled`` at once, in one ``UPDATE ... WHERE status = 'queued'`` (a thread or worker that picks
it up afterwards finds it no longer queued and does not run it); a ``running`` run gets the
request stored on its row, and stops at its next progress step
(:mod:`django_housekeeping.tasks.stopping`) — wherever it executes, as every process reads the
same row. A group's run stops after its current member.

:func:`ending` turns what stopped a run into its outcome: ``cancelled`` (not a failure: no alert,
no ``task_failed``) or, past its timeout, ``failed`` with "timed out after N s"; either with what
it deleted so far.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone

from django_housekeeping.models import TaskRun
from django_housekeeping.signals import task_finished
from django_housekeeping.tasks.registry import NotRegistered, registry
from django_housekeeping.tasks.stopping import RunCancelled, RunTimedOut

Status = TaskRun.Status


class NotActive(Exception):
    """The run has already ended (or was never there): nothing to cancel."""

    def __init__(self, run: TaskRun) -> None:
        if run.status in TaskRun.ACTIVE_STATUSES:
            message = f"Run #{run.pk} of {run.task_name} was already asked to stop."
        else:
            message = f"Run #{run.pk} of {run.task_name} is already {run.status}."
        super().__init__(message)
        self.run = run


@dataclass(frozen=True)
class Cancelled:
    """What :func:`request` did: ``ended`` when a queued run was cancelled before it started,
    else the request is stored and the run stops at its next progress step."""

    run: TaskRun
    ended: bool

    @property
    def detail(self) -> str:
        if self.ended:
            return f"Cancelled run #{self.run.pk} of {self.run.task_name} before it started."
        return (
            f"Asked run #{self.run.pk} of {self.run.task_name} to stop: it stops at its next "
            "progress step and ends cancelled."
        )


def request(run: TaskRun, *, user: AbstractBaseUser | None, via: str) -> Cancelled:
    """Cancel ``run``: :class:`NotActive` when it is no longer queued or running, or when a
    cancel was already requested (a second request changes nothing)."""
    runs = TaskRun.objects.filter(pk=run.pk)
    now = timezone.now()
    ended = runs.filter(status=Status.QUEUED).update(
        status=Status.CANCELLED,
        cancel_requested_at=now,
        cancelled_by=user,
        cancel_via=via,
        finished_at=now,
        heartbeat_at=now,
        duration=max(now - run.started_at, timedelta(0)),
        active_task=None,
        result=partial_result({}, cancelled=True),
    )
    if not ended:
        asked = runs.filter(status=Status.RUNNING, cancel_requested_at__isnull=True).update(
            cancel_requested_at=now, cancelled_by=user, cancel_via=via
        )
        if not asked:
            run.refresh_from_db()
            raise NotActive(run)
    run.refresh_from_db()
    if ended:  # counted in the rollup and metrics like any finished run
        with suppress(NotRegistered):
            task_finished.send(sender=registry.get(run.task_name), run=run)
    return Cancelled(run=run, ended=bool(ended))


def ending(run: TaskRun, exc: BaseException) -> tuple[str, Any, str] | None:
    """The outcome (status, result, error) of a run that ``exc`` stopped, or ``None`` when
    ``exc`` is no cancel nor timeout (then it failed as usual)."""
    if isinstance(exc, RunCancelled):
        run.refresh_from_db(fields=["cancel_requested_at", "cancelled_by", "cancel_via"])
        return Status.CANCELLED, partial_result(exc.deleted, cancelled=True), ""
    if isinstance(exc, RunTimedOut):
        return (
            Status.FAILED,
            partial_result(exc.deleted, timed_out=exc.seconds),
            f"{exc}: a run stops at its next progress step once it is past its timeout",
        )
    return None


def partial_result(deleted: dict[str, int], **extra: Any) -> dict[str, Any]:
    """The result of a stopped run: what it deleted so far, by model."""
    return {**extra, "deleted": deleted, "total": sum(deleted.values()), "partial": True}


def group_cancelled(outcomes: dict[str, Any], failed: list[str]) -> dict[str, Any]:
    """The result of a group's run cancelled between two members."""
    return {"tasks": outcomes, "failed": failed, "cancelled": True, "partial": True}

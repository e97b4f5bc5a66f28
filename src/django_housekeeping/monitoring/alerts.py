"""Alerts: a task that fails (or is overdue) raises one alert per streak; its next success
resolves it.

An alert is a :class:`~django_housekeeping.models.TaskAlert` row. A task has at most one open
alert of each kind, whichever process raises it (the row's unique ``open_key``), so a failure
streak alerts once, not once per failed run. Raising and resolving send the public signals
``alert_raised`` and ``alert_resolved``; with ``HOUSEKEEPING["ALERT_MAIL_ADMINS"]`` the receivers
here mail the site's ``ADMINS``.

- A finished run (``after_run``, a receiver of ``task_finished``): failed or interrupted raises a
  ``failed`` alert; succeeded resolves the task's open alerts. Dry runs, skipped and missed slots
  change nothing; a group's failure is its members' (each alerts for itself). A failure found
  after a later run of the task already succeeded (the run of a process that stopped before an
  upgrade, marked ``interrupted`` by the first new leader) raises nothing: that streak ended.
- The scheduler's leader calls :func:`check_overdue` once a minute: ``overdue`` alerts for the
  tasks the health finds overdue, and resolves those no longer judged (paused, say).
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.core.mail import mail_admins
from django.db import IntegrityError, router, transaction
from django.dispatch import Signal
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import TaskAlert, TaskRun, error_summary
from django_housekeeping.monitoring.health import overdue_problems
from django_housekeeping.running.history import superseded
from django_housekeeping.signals import alert_raised, alert_resolved
from django_housekeeping.tasks.registry import registry

logger = logging.getLogger("django_housekeeping.alerts")

Kind = TaskAlert.Kind


def after_run(run: TaskRun) -> None:
    """Raise or resolve the alerts of ``run``'s task for the way it ended."""
    if run.dry_run:
        return
    if run.status == TaskRun.Status.SUCCEEDED:
        resolve(run.task_name, run=run)
        return
    if run.status not in (TaskRun.Status.FAILED, TaskRun.Status.INTERRUPTED):
        return
    task = registry.as_mapping().get(run.task_name)
    if task is not None and task.is_group:
        return
    if superseded(run):
        return  # a later run already succeeded (a run of a stopped process, found late)
    what = "was interrupted" if run.status == TaskRun.Status.INTERRUPTED else "failed"
    reason = f"run #{run.pk} {what}: {error_summary(run.error) or 'no error recorded'}"
    raise_alert(run.task_name, Kind.FAILED, reason, run=run)


def check_overdue() -> None:
    """Raise an ``overdue`` alert for each overdue task; resolve the open ones no longer due."""
    overdue = {problem.task: problem for problem in overdue_problems()}
    for name, problem in overdue.items():
        if name is not None:
            raise_alert(name, Kind.OVERDUE, problem.message)
    still_open = TaskAlert.objects.filter(kind=Kind.OVERDUE, closed_at__isnull=True)
    for alert in still_open.exclude(task_name__in=[name for name in overdue if name]):
        _close(alert, run=None)


def raise_alert(
    task_name: str, kind: str, reason: str, *, run: TaskRun | None = None
) -> TaskAlert | None:
    """Open an alert, unless the task has one of this kind open already (then ``None``)."""
    alert = TaskAlert(
        task_name=task_name,
        kind=kind,
        reason=reason,
        run=run,
        opened_at=timezone.now(),
        open_key=f"{kind}:{task_name}",
    )
    try:
        with transaction.atomic(using=router.db_for_write(TaskAlert)):
            alert.save(force_insert=True)
    except IntegrityError:
        return None  # the streak's alert is open already
    logger.warning("Alert: %s %s (%s)", task_name, kind, reason)
    _on_commit(lambda: _send(alert_raised, alert=alert))
    return alert


def resolve(task_name: str, *, run: TaskRun | None = None) -> list[TaskAlert]:
    """Close the task's open alerts (its run succeeded); return those this call closed."""
    closed = []
    for alert in TaskAlert.objects.filter(task_name=task_name, closed_at__isnull=True):
        if _close(alert, run=run):
            closed.append(alert)
    return closed


def _close(alert: TaskAlert, *, run: TaskRun | None) -> bool:
    now = timezone.now()
    # Only the process whose update closes it sends the signal.
    if not TaskAlert.objects.filter(pk=alert.pk, closed_at__isnull=True).update(
        closed_at=now, open_key=None
    ):
        return False
    alert.closed_at, alert.open_key = now, None
    logger.info("Resolved: %s %s", alert.task_name, alert.kind)
    _on_commit(lambda: _send(alert_resolved, alert=alert, run=run))
    return True


def _on_commit(send: Any) -> None:
    transaction.on_commit(send, using=router.db_for_write(TaskAlert))


def _send(signal: Signal, **kwargs: Any) -> None:
    """Send an alert signal to every receiver: one that raises is logged, and the others (the
    mails among them) still get it; neither the run nor the scheduler's tick is disturbed."""
    for receiver, result in signal.send_robust(sender=None, **kwargs):
        if isinstance(result, Exception):
            logger.error("A receiver of an alert signal failed: %r", receiver, exc_info=result)


# -- mail ---------------------------------------------------------------------------------------


def mail_raised(sender: Any, alert: TaskAlert, **kwargs: Any) -> None:
    """Mail the ``ADMINS`` about a new alert (``ALERT_MAIL_ADMINS``)."""
    if not housekeeping_settings.ALERT_MAIL_ADMINS:
        return
    if alert.kind == Kind.OVERDUE:
        subject = f"Housekeeping: {alert.task_name} is overdue"
    else:
        subject = f"Housekeeping: {alert.task_name} failed"
    lines = [f"Task: {alert.task_name}", f"What happened: {alert.reason}"]
    if alert.run_id is not None:
        lines.append(f"The run: {run_link(alert.run_id)}")
    lines.append("You get no more mail about this task until it succeeds again.")
    _mail(subject, lines)


def mail_resolved(sender: Any, alert: TaskAlert, run: TaskRun | None = None, **kwargs: Any) -> None:
    """Mail the ``ADMINS`` that a task recovered (``ALERT_MAIL_ADMINS``)."""
    if not housekeeping_settings.ALERT_MAIL_ADMINS:
        return
    what = "is no longer overdue" if alert.kind == Kind.OVERDUE else "recovered"
    raised = timezone.localtime(alert.opened_at)
    lines = [f"Task: {alert.task_name}", f"Alert raised: {raised:%Y-%m-%d %H:%M %Z}"]
    if run is not None:
        lines.append(f"It succeeded again: {run_link(run.pk)}")
    else:
        lines.append("It is no longer judged (paused, disabled or no longer scheduled).")
    _mail(f"Housekeeping: {alert.task_name} {what}", lines)


def _mail(subject: str, lines: list[str]) -> None:
    try:
        mail_admins(subject, "\n".join(lines))
    except Exception:  # a mail server down must not fail the run that alerted
        logger.exception("Could not mail the admins: %s", subject)


def run_link(run_id: int) -> str:
    """The run's page in the admin: an absolute URL when django.contrib.sites knows the domain,
    else the path."""
    try:
        path = reverse("admin:django_housekeeping_taskrun_change", args=[run_id])
    except NoReverseMatch:
        return f"run #{run_id}"
    if apps.is_installed("django.contrib.sites"):
        from django.contrib.sites.models import Site  # optional app: imported when installed

        return f"https://{Site.objects.get_current().domain}{path}"
    return path

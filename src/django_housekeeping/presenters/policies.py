"""Retention policies as the admin, the dashboard and the API show them: windows, cutoffs, rows
due, holds, previews and the delete receivers they would call."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.apps import apps
from django.db.models import Model, QuerySet
from django.db.models.signals import ModelSignal, post_delete, pre_delete
from django.utils import timezone

from django_housekeeping.compat import live_receivers
from django_housekeeping.models import TaskRun
from django_housekeeping.presenters.runs import RunUrl, run_payload
from django_housekeeping.presenters.tasks import task_views
from django_housekeeping.purging import holds
from django_housekeeping.tasks.retention import (
    RetentionPolicy,
    Window,
    describe_window,
    policies,
)

# Rows due are counted up to this many (a COUNT of a LIMITed subquery, as the admin's history
# counts its runs); beyond it a face says "more than".
ROWS_DUE_LIMIT = 10_000


def capped_count(queryset: QuerySet[Any], limit: int) -> int:
    """The rows ``queryset`` selects, counted up to ``limit + 1``: what a ``COUNT(*)`` of a
    ``LIMIT``ed, unordered subquery costs, however large the table. The admin's history
    paginator and the policies' rows due both count so."""
    return queryset.order_by()[: limit + 1].count()


def count_display(count: int, limit: int) -> dict[str, Any]:
    """``{"count", "capped", "text"}``: the number, whether it hit ``limit`` (``count`` is then
    ``limit``), and ``"1,234"`` or ``"more than 10,000"``."""
    capped = count > limit
    shown = min(count, limit)
    return {
        "count": shown,
        "capped": capped,
        "text": f"more than {shown:,}" if capped else f"{shown:,}",
    }


def window_payload(
    policy: RetentionPolicy, window: Window, now: datetime, *, alone: bool = False
) -> dict[str, Any]:
    """One window of a policy as the faces show it, with its cutoff at ``now``; ``rows`` says
    which rows it applies to (``"every row"`` when ``alone``, the policy's one window)."""
    if not window.default:
        rows = f"{policy.keep_by}={window.value!r}"
    else:
        rows = "every row" if alone else "every other row"
    return {
        "rows": rows,
        "default": window.default,
        "value": window.value,
        "keep": describe_window(window.keep),
        "keep_seconds": window.keep.total_seconds(),
        "cutoff": window.cutoff(now),
        "source": window.source,
    }


def delete_receivers(labels: Iterable[str]) -> list[dict[str, Any]]:
    """Which ``pre_delete``/``post_delete`` receivers deleting rows of the models ``labels`` name
    would call now: ``[{"model", "signal", "receivers": ["module.function", ...]}]``."""
    rows = []
    for label in sorted(set(labels)):
        try:
            model = apps.get_model(label)
        except (LookupError, ValueError):
            continue  # a model no longer installed
        for name, signal in (("pre_delete", pre_delete), ("post_delete", post_delete)):
            receivers = _receiver_names(signal, model)
            if receivers:
                rows.append({"model": label, "signal": name, "receivers": receivers})
    return rows


def _receiver_names(signal: ModelSignal, model: type[Model]) -> list[str]:
    if not signal.has_listeners(model):
        return []
    return [_callable_name(receiver) for receiver in live_receivers(signal, model)]


def _callable_name(receiver: Any) -> str:
    target = getattr(receiver, "__func__", receiver)
    module = getattr(target, "__module__", None) or ""
    name = getattr(target, "__qualname__", None) or type(target).__qualname__
    return f"{module}.{name}" if module else name


def preview_payload(run: TaskRun, run_url: RunUrl | None = None) -> dict[str, Any]:
    """A policy's dry run as its preview: :func:`run_payload`, and the delete receivers that the
    models it would delete rows of have (``receivers``)."""
    data = run_payload(run, run_url)
    deleting = [row["model"] for row in data["details"]["models"] if row["deleted"]]
    data["receivers"] = delete_receivers(deleting)
    return data


def _latest(name: str, *, dry_run: bool) -> TaskRun | None:
    """The latest run of ``name``, on its own or as a member of a group (the way a site's daily
    group runs its policies)."""
    return (
        TaskRun.objects.select_related("triggered_by")
        .filter(task_name=name, dry_run=dry_run)
        .order_by("-started_at", "-id")
        .first()
    )


def policies_payload(
    run_url: RunUrl | None = None, *, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Every retention policy as the admin, the dashboard and the API show it: its windows in
    effect (settings applied) with their cutoffs at ``now``, the rows due now (counted up to
    :data:`ROWS_DUE_LIMIT`), the rows due that a legal hold names, its schedule,
    next run, last real run and latest dry run (``preview``, with its delete receivers)."""
    now = now or timezone.now()
    found = list(policies())
    if not found:
        return []
    views = {view.task.name: view for view in task_views()}
    payload = []
    for task, policy in found:
        view = views[task.name]
        windows = policy.windows(task.override)
        rows_due = policy.due(now, windows)
        due = count_display(capped_count(rows_due, ROWS_DUE_LIMIT), ROWS_DUE_LIMIT)
        held = holds.count_held(rows_due)
        last_run = _latest(task.name, dry_run=False)
        preview = _latest(task.name, dry_run=True)
        payload.append(
            {
                "name": task.name,
                "description": task.description,
                "model": policy.label,
                "field": policy.field,
                "keep_by": policy.keep_by,
                "windows": [
                    window_payload(policy, window, now, alone=len(windows) == 1)
                    for window in windows
                ],
                "rows_due": due,
                "held_in_scope": held,
                "held_text": f"{held:,}",
                "schedule": view.schedule,
                "enabled": task.enabled,
                "paused": view.paused,
                "next_run": view.next_run,
                "last_run": run_payload(last_run, run_url) if last_run is not None else None,
                "preview": preview_payload(preview, run_url) if preview is not None else None,
            }
        )
    return payload

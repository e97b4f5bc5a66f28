"""Deleting what a queryset selects, with everything Django cascades, or counting it in a dry run.

The result is the same shape in both modes, so a dry run shows exactly what a real run deletes.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, TypedDict

from django.db import router
from django.db.models import Model, QuerySet
from django.db.models.deletion import Collector


class PurgeResult(TypedDict):
    """Per-model counts (``"app_label.Model" -> rows``), their total, and the dry-run flag."""

    deleted: dict[str, int]
    total: int
    dry_run: bool


def purge(queryset: QuerySet[Any], *, dry_run: bool = False) -> PurgeResult:
    """Delete ``queryset`` and its cascades; with ``dry_run`` only count what would go."""
    if not isinstance(queryset, QuerySet):
        raise TypeError(f"purge() needs a QuerySet, got {type(queryset).__name__}")
    counts: dict[str, int]
    if dry_run:
        counts = _count_deletion(queryset)
    else:
        _, counts = queryset.delete()
    deleted = {label: count for label, count in sorted(counts.items()) if count}
    return PurgeResult(deleted=deleted, total=sum(deleted.values()), dry_run=dry_run)


def _count_deletion(queryset: QuerySet[Any]) -> Counter[str]:
    """What ``queryset.delete()`` would report, found with Django's own collector."""
    using = router.db_for_write(queryset.model)
    collector = Collector(using=using, origin=queryset)
    collector.collect(queryset)
    counts: Counter[str] = Counter()
    for fast_delete in collector.fast_deletes:
        counts[fast_delete.model._meta.label] += fast_delete.count()
    model: type[Model]
    for model, instances in collector.data.items():
        counts[model._meta.label] += len({instance.pk for instance in instances})
    return counts

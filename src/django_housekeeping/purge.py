"""Deleting what a queryset selects, with everything Django cascades, or counting it in a dry run.

The result is the same shape in both modes, so a dry run shows exactly what a real run deletes.
"""

from __future__ import annotations

from typing import Any, TypedDict

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


def _count_deletion(queryset: QuerySet[Any]) -> dict[str, int]:
    """What ``queryset.delete()`` would report, found with Django's own collector.

    Mirrors ``QuerySet.delete()``: the same refusals (sliced, ``values()``, ...), the same
    database, the same collector. Rows that more than one cascade reaches are counted once, as the
    real deletion deletes them once.
    """
    # The checks QuerySet.delete() makes before it deletes anything.
    queryset._not_support_combined_queries("delete")  # type: ignore[attr-defined]
    if queryset.query.is_sliced:
        raise TypeError("Cannot use 'limit' or 'offset' with delete().")
    if queryset.query.distinct_fields:
        raise TypeError("Cannot call delete() after .distinct(*fields).")
    if queryset._fields is not None:  # type: ignore[attr-defined]
        raise TypeError("Cannot call delete() after .values() or .values_list()")
    del_query = queryset._chain()  # type: ignore[attr-defined]
    del_query._for_write = True
    del_query.query.select_for_update = False
    del_query.query.select_related = False
    del_query.query.clear_ordering(force=True)

    collector = Collector(using=del_query.db, origin=queryset)
    collector.collect(del_query)

    # Per model: the instances the collector loaded and the querysets it would delete directly.
    sources: dict[type[Model], tuple[set[Any], list[QuerySet[Any]]]] = {}
    model: type[Model]
    for model, instances in collector.data.items():
        sources.setdefault(model, (set(), []))[0].update(instance.pk for instance in instances)
    for fast_delete in collector.fast_deletes:
        sources.setdefault(fast_delete.model, (set(), []))[1].append(fast_delete)

    counts: dict[str, int] = {}
    for model, (pks, fast_deletes) in sources.items():
        if not pks and len(fast_deletes) == 1:
            count = fast_deletes[0].count()
        else:  # several ways to the same table may reach the same rows
            for fast_delete in fast_deletes:
                pks.update(fast_delete.values_list("pk", flat=True))
            count = len(pks)
        counts[model._meta.label] = count
    return counts

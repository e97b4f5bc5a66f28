"""What happens to a purge batch's rows just before they are deleted.

Each batch, in its transaction and before its first ``DELETE``, hands its rows to the archive
(:class:`~django_housekeeping.purging.archive.ArchiveWriter`, when the purge archives) and their
primary keys to the purge's ``deleted_keys`` callback (``erase()`` records them). A batch is
deleted in one of three ways, and each has its hook here: by the plan's statements
(:meth:`BatchHooks.before_planned`), as a range of one partition
(:meth:`BatchHooks.before_range`), or by Django's collector (:meth:`BatchHooks.before_collected`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db.models import Model, QuerySet
from django.db.models.deletion import Collector

from django_housekeeping.purging import planner as planning
from django_housekeeping.purging.archive import ArchiveWriter
from django_housekeeping.purging.planner import Scope, concrete

#: ``deleted_keys(keys)``: called in a batch's transaction, before it deletes, with the primary
#: keys of the rows it deletes per concrete model, cascades included (``erase()`` records them).
KeysCallback = Callable[[dict[type[Model], set[Any]]], None]


class BatchHooks:
    """The archive and the ``deleted_keys`` callback of one purge (either may be ``None``)."""

    def __init__(self, archive: ArchiveWriter | None, deleted_keys: KeysCallback | None) -> None:
        self.archive = archive
        self.deleted_keys = deleted_keys

    def before_planned(self, plan: planning.Plan, scope: Scope) -> None:
        """Before a planned batch deletes: its rows archived (the deleted ones, then the updated
        ones, each row once), and their keys handed to ``deleted_keys``."""
        if self.archive is not None:
            self.archive.append(
                (scope.queryset(node) for node in plan.delete_nodes),
                updated=[
                    scope.queryset(node) for node in plan.nodes if node.action == planning.UPDATE
                ],
            )
        if self.deleted_keys is not None:
            keys: dict[type[Model], set[Any]] = {}
            for node in plan.delete_nodes:
                keys.setdefault(concrete(node.model), set()).update(scope.primary_keys(node))
            self.deleted_keys(keys)

    def before_range(self, model: type[Model], rows: QuerySet[Any]) -> None:
        """Before one statement deletes ``rows`` of ``model`` (a range of one partition, no
        cascade)."""
        if self.archive is not None:
            self.archive.append([rows])
        if self.deleted_keys is not None:
            self.deleted_keys({concrete(model): set(rows.values_list("pk", flat=True))})

    def before_collected(self, collector: Collector) -> None:
        """Before Django's collector deletes what it collected."""
        if self.archive is not None:
            self.archive.append(*collected_rows(collector))
        if self.deleted_keys is not None:
            self.deleted_keys(collected_keys(collector))


def collected_rows(collector: Collector) -> tuple[list[Any], list[Any]]:
    """What a collector is about to delete, and what it is about to update, grouped by model."""
    groups: list[Any] = [list(instances) for instances in collector.data.values() if instances]
    groups.extend(collector.fast_deletes)
    updated: list[Any] = []
    updates: dict[Any, list[Any]] = collector.field_updates
    for objs_list in updates.values():
        for objs in objs_list:
            updated.append(objs if isinstance(objs, QuerySet) else list(objs))
    return groups, updated


def collected_keys(collector: Collector) -> dict[type[Model], set[Any]]:
    """The keys of the rows a collector is about to delete, per concrete model."""
    keys: dict[type[Model], set[Any]] = {}
    for model, instances in collector.data.items():
        keys.setdefault(concrete(model), set()).update(instance.pk for instance in instances)
    for fast_delete in collector.fast_deletes:
        keys.setdefault(concrete(fast_delete.model), set()).update(
            fast_delete.values_list("pk", flat=True)
        )
    return keys

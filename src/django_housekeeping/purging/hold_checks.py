"""Which rows of a purge batch a legal hold keeps.

Each batch reads the active holds in its transaction
(:class:`~django_housekeeping.purging.holds.HeldKeys`); :class:`HoldChecks` (a part of
:class:`~django_housekeeping.purging.engine._Purge`) finds the batch's rows whose deletion would
reach a held row — a held row itself, or one its cascade would delete — halving the batch until
they are found, and counts what they keep as ``held``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.db.models import Model
from django.db.models.deletion import Collector, ProtectedError, RestrictedError

from django_housekeeping.purging import planner as planning
from django_housekeeping.purging.collecting import collected_reaches
from django_housekeeping.purging.planner import in_keys


class HoldChecks:
    """The legal-hold checks of a purge's batches (a part of ``_Purge``)."""

    # What it uses of the purge (set by _Purge.__init__, or its methods).
    plan: planning.Plan | None
    label: str
    param_limit: int
    held: dict[str, set[Any]]
    _partition: Callable[..., list[Any]]
    _scope: Callable[[Sequence[Any]], Any]
    _collect: Callable[[Sequence[Any]], Collector]

    def _skip_held(
        self, roots: Sequence[Any], reaches_held: Callable[[Sequence[Any]], bool]
    ) -> list[Any]:
        """The roots whose deletion reaches no held row; the others are counted as held, with
        the rows their deletion would have cascaded to."""
        kept: list[Any] = []
        allowed = self._partition(
            roots,
            lambda batch: "held" if reaches_held(batch) else None,
            lambda root, _reason: kept.append(root),
        )
        if kept:
            self._count_held(kept)
        return allowed

    def _plan_reaches(self, roots: Sequence[Any], held: dict[type[Model], set[Any]]) -> bool:
        """Whether deleting ``roots`` deletes a held row (updates by SET_NULL/SET_DEFAULT do
        not count: the held row stays)."""
        assert self.plan is not None
        scope = self._scope(roots)
        for node in self.plan.delete_nodes:
            keys = held.get(node.model)
            if not keys:
                continue
            if node.kind == planning.ROOT:
                if not keys.isdisjoint(roots):
                    return True
                continue
            rows = scope.queryset(node)
            for chunk in planning.chunked(sorted(keys, key=str), self.param_limit // 2):
                if rows.filter(in_keys(node.model, "pk", chunk)).exists():
                    return True
        return False

    def _collector_reaches(self, roots: Sequence[Any], held: dict[type[Model], set[Any]]) -> bool:
        try:
            collector = self._collect(roots)
        except (ProtectedError, RestrictedError):
            return False  # not for a hold to say: the protection check decides these
        return collected_reaches(collector, held)

    def _count_held(self, kept: Sequence[Any]) -> None:
        """Add the rows ``kept``'s deletion would have reached to ``held`` (each row once)."""
        if self.plan is not None:
            scope = self._scope(kept)
            for node in self.plan.delete_nodes:
                keys = set(kept) if node.kind == planning.ROOT else scope.primary_keys(node)
                self.held.setdefault(node.label, set()).update(keys)
            return
        try:
            collector = self._collect(kept)
        except (ProtectedError, RestrictedError):
            self.held.setdefault(self.label, set()).update(kept)
            return
        for model, instances in collector.data.items():
            self.held.setdefault(model._meta.label, set()).update(
                instance.pk for instance in instances
            )
        for fast_delete in collector.fast_deletes:
            self.held.setdefault(fast_delete.model._meta.label, set()).update(
                fast_delete.values_list("pk", flat=True)
            )

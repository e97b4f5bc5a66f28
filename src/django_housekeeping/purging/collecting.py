"""The purge batches Django's own ``Collector`` deletes or watches.

A purge goes through Django's collector when its models have delete signal receivers (the
collector collects each batch and loads the rows whose models have receivers; the plan's
statements delete them, the signals sent in ``Collector.delete()``'s order) or when the plan
cannot express the schema (a cascade cycle, a custom ``on_delete``: the collector deletes the
batch). :class:`CollectorBatches` is that part of the purge's batch loop
(:class:`~django_housekeeping.purging.engine._Purge` mixes it in); the functions read a collector.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from django.db.models import Model, QuerySet
from django.db.models.deletion import Collector, ProtectedError, RestrictedError
from django.db.models.signals import post_delete, pre_delete

from django_housekeeping import compat
from django_housekeeping.purging import planner as planning
from django_housekeeping.purging.batch_hooks import BatchHooks
from django_housekeeping.purging.planner import concrete, in_keys


class CollectorBatches:
    """The batches of a purge that go through Django's collector (a part of ``_Purge``)."""

    # What it uses of the purge (set by _Purge.__init__, or its methods).
    queryset: QuerySet[Any]
    model: type[Model]
    using: str
    dry_run: bool
    plan: planning.Plan | None
    root_filter: Any
    lean_roots: tuple[str, ...]
    hooks: BatchHooks
    deleted: Counter[str]
    seen: dict[str, set[Any]]
    _partition: Callable[..., list[Any]]
    _scope: Callable[[Sequence[Any]], Any]
    _skip_held: Callable[[Sequence[Any], Callable[[Sequence[Any]], bool]], list[Any]]
    _collector_reaches: Callable[[Sequence[Any], dict[type[Model], set[Any]]], bool]

    def _collect(self, roots: Sequence[Any]) -> Collector:
        rows = self.model._base_manager.db_manager(self.using).filter(
            in_keys(self.model, "pk", roots)
        )
        if self.root_filter is not None:
            rows = rows.filter(self.root_filter)
        if self.lean_roots:
            rows = rows.only(*self.lean_roots)
        collector = Collector(using=self.using, origin=self.queryset)
        collector.collect(rows)
        return collector

    def _collector_guard(self, roots: Sequence[Any]) -> str | None:
        try:
            self._collect(roots)
        except (ProtectedError, RestrictedError) as error:
            return refusal(error)
        return None

    def _collect_allowed(self, roots: list[Any]) -> tuple[list[Any], Collector | None]:
        """Django's collector for the roots it allows to delete (halving a refused batch)."""
        try:
            return roots, self._collect(roots)
        except (ProtectedError, RestrictedError):
            roots = self._partition(roots, self._collector_guard)
            return roots, self._collect(roots) if roots else None

    def _signalled_batch(self, roots: list[Any]) -> None:
        """A batch whose models have delete receivers, deleted the way Django's collector does.

        Django's collector collects the batch (loading the rows whose models have receivers, and
        what it needs to find them); ``pre_delete`` is sent for every collected row; the plan's
        statements delete the batch, and ``post_delete`` is sent for a model's rows as soon as
        the last of them is deleted — the order of ``Collector.delete()``, which would otherwise
        delete the loaded rows a hundred keys per statement.
        """
        roots, collector = self._collect_allowed(roots)
        if collector is None:
            return
        assert self.plan is not None
        scope = self._scope(roots)
        self.hooks.before_planned(self.plan, scope)
        collector.sort()  # the model order Collector.delete() sends signals in
        collected: dict[Any, list[Any]] = {}
        for model, instances in collector.data.items():
            if instances:
                collected.setdefault(concrete(model), []).append(
                    (model, sorted(instances, key=attrgetter("pk")))
                )
        for groups in collected.values():
            for model, instances in groups:
                if not model._meta.auto_created:
                    for instance in instances:
                        pre_delete.send(
                            sender=model, instance=instance, using=self.using, origin=self.queryset
                        )

        def send_post_delete(deleted_model: type[Model]) -> None:
            for model, instances in collected.get(deleted_model, ()):
                if not model._meta.auto_created:
                    for instance in instances:
                        post_delete.send(
                            sender=model, instance=instance, using=self.using, origin=self.queryset
                        )

        self.deleted.update(scope.delete(deleted_all_of=send_post_delete))
        for groups in collected.values():
            for model, instances in groups:
                for instance in instances:
                    setattr(instance, model._meta.pk.attname, None)

    def _collector_batch(self, roots: list[Any], held: dict[type[Model], set[Any]]) -> None:
        roots, maybe_collector = self._collect_allowed(roots)
        if maybe_collector is not None and held and collected_reaches(maybe_collector, held):
            roots = self._skip_held(roots, lambda batch: self._collector_reaches(batch, held))
            roots, maybe_collector = self._collect_allowed(roots) if roots else ([], None)
        if maybe_collector is None:
            return
        collector = maybe_collector
        if self.dry_run:
            for model, instances in collector.data.items():
                self.seen.setdefault(model._meta.label, set()).update(
                    instance.pk for instance in instances
                )
            for fast_delete in collector.fast_deletes:
                self.seen.setdefault(fast_delete.model._meta.label, set()).update(
                    fast_delete.values_list("pk", flat=True)
                )
            return
        self.hooks.before_collected(collector)
        _, counts = collector.delete()
        self.deleted.update(counts)


def collected_reaches(collector: Collector, held: dict[type[Model], set[Any]]) -> bool:
    """Whether Django's collector is about to delete a held row."""
    for model, instances in collector.data.items():
        keys = held.get(concrete(model))
        if keys and any(instance.pk in keys for instance in instances):
            return True
    for fast_delete in collector.fast_deletes:
        keys = held.get(concrete(fast_delete.model))
        if keys and fast_delete.filter(pk__in=list(keys)).exists():
            return True
    return False


def has_delete_receivers(model: type[Model]) -> bool:
    return pre_delete.has_listeners(model) or post_delete.has_listeners(model)


def referenced_fields(model: type[Model]) -> tuple[str, ...]:
    """The fields of ``model`` the relations deleting it follows read (its key, and the targets
    of foreign keys to it); empty for a multi-table child, whose parent rows the collector reads
    through the child rows."""
    opts = model._meta
    if opts.concrete_model is None or opts.concrete_model._meta.parents:
        return ()
    fields = {opts.pk.attname} if opts.pk is not None else set()
    relation: Any
    for relation in compat.candidate_relations_to_delete(opts):
        fields.update(target.attname for target in relation.field.foreign_related_fields)
    return tuple(sorted(fields))


def refusal(error: ProtectedError | RestrictedError) -> str:
    """``"app_label.Model"`` of the rows that refused a deletion."""
    refusing = (
        error.protected_objects if isinstance(error, ProtectedError) else error.restricted_objects
    )
    for row in refusing:
        return str(row._meta.label)
    return "unknown"

"""Erasure requests: delete one object and what cascades from it, with an audit trail.

``from django_housekeeping import erase``::

    record = erase(user, reason="Account deletion requested 2026-11-30", requested_by=request.user)

The object is deleted through the purge engine (:func:`~django_housekeeping.purging.engine.purge`:
its cascades, its delete signals, rows a ``PROTECT``/``RESTRICT`` relation keeps are reported, not
a crash). When a legal hold is in the way — on the object or on a row its deletion would cascade
to — nothing is deleted and :class:`ErasureRefused` names the held rows.

Every request leaves an :class:`~django_housekeeping.models.ErasureRecord`: the model's label and
the primary key, the rows deleted per model, who asked, when and why, and how it ended. It keeps
no field value of the erased rows, and no archive of them is written whatever
``PURGE_ARCHIVE`` says. The keys of the rows it deletes (model label and primary key, cascades
included) are written as :class:`~django_housekeeping.models.ErasedKey` rows in the deletion's
transaction: ``housekeeping restore`` skips them. The record is written and committed
(``started``) before anything is deleted, and completed afterwards in a second write: the
deletion of one object is one transaction, so a deletion that fails half way deletes nothing and
leaves a ``failed`` record (the exception's type only: its message may quote the row's values),
and a process that dies during it leaves a ``started`` record. Called inside a transaction of
the caller's (say ``ATOMIC_REQUESTS``), the record commits or rolls back with that transaction.

The deletion holds the legal holds' lock exclusively
(:func:`~django_housekeeping.purging.holds.lock`): it waits for the purge batches deleting at
that moment, and a hold placed while it runs waits for it (a hold on a row it erased is then
refused: :class:`~django_housekeeping.purging.holds.HoldRefused`).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import router, transaction
from django.db.models import Model, QuerySet
from django.db.models.deletion import Collector, ProtectedError, RestrictedError
from django.db.models.signals import post_delete, pre_delete
from django.utils import timezone

from django_housekeeping.models import ErasedKey, ErasureRecord
from django_housekeeping.purging import planner as planning
from django_housekeeping.purging.engine import purge
from django_housekeeping.purging.erasable import refuse_denied
from django_housekeeping.purging.holds import BLANK, held_keys, lock, recorded_user

__all__ = ["ErasurePreview", "ErasureRefused", "erase", "held_rows", "preview"]


class ErasureRefused(Exception):
    """An erasure a legal hold is in the way of: nothing was deleted.

    ``held_rows`` names the held rows as ``"app_label.Model:pk"``; ``record`` is the
    :class:`~django_housekeeping.models.ErasureRecord` (status ``refused``).
    """

    def __init__(self, label: str, pk: Any, held_rows: Sequence[str], record: Any = None) -> None:
        self.label = label
        self.pk = pk
        self.held_rows = list(held_rows)
        self.record = record
        super().__init__(
            f"cannot erase {label} {pk}: legal holds keep {', '.join(self.held_rows)}; "
            "nothing was deleted"
        )


def _concrete(model: type[Model]) -> type[Model]:
    concrete: type[Model] | None = model._meta.concrete_model
    assert concrete is not None
    return concrete


def held_rows(queryset: QuerySet[Any]) -> list[str]:
    """The actively held rows that deleting ``queryset`` would delete (its rows and their
    cascades; not the rows a ``SET_NULL``/``SET_DEFAULT`` relation only updates), as
    ``"app_label.Model:pk"``, sorted."""
    using = queryset.db
    held = held_keys(None, using)
    if not held:
        return []
    model = _concrete(queryset.model)
    roots = list(queryset.order_by().values_list("pk", flat=True))
    found: set[str] = set()
    try:
        plan = planning.build_plan(model, using)
    except planning.Unsupported:
        plan = None
    if plan is not None:
        limit = planning.max_query_params(using)
        for chunk in planning.chunked(roots, max(1, limit // 2)):
            scope = planning.Scope(plan, using, chunk, limit)
            for node in plan.delete_nodes:
                keys = held.get(node.model)
                if not keys:
                    continue
                rows = scope.queryset(node).filter(pk__in=list(keys))
                found.update(f"{node.label}:{pk}" for pk in rows.values_list("pk", flat=True))
        return sorted(found)
    collector = Collector(using=using)
    try:
        collector.collect(model._base_manager.db_manager(using).filter(pk__in=roots))
    except (ProtectedError, RestrictedError):
        # Protected rows are not deleted: only the roots themselves can be said to be held.
        keys = held.get(model, set())
        return sorted(f"{model._meta.label}:{pk}" for pk in roots if pk in keys)
    for collected_model, instances in collector.data.items():
        keys = held.get(_concrete(collected_model), set())
        found.update(
            f"{collected_model._meta.label}:{instance.pk}"
            for instance in instances
            if instance.pk in keys
        )
    for fast_delete in collector.fast_deletes:
        keys = held.get(_concrete(fast_delete.model), set())
        if keys:
            found.update(
                f"{fast_delete.model._meta.label}:{pk}"
                for pk in fast_delete.filter(pk__in=list(keys)).values_list("pk", flat=True)
            )
    return sorted(found)


@dataclass(frozen=True)
class ErasurePreview:
    """What erasing one object would do, with no record written: the rows per model that would
    go (``deleted``), the rows a ``PROTECT``/``RESTRICT`` relation keeps (``protected``), the
    held rows in the way (``held_rows``), and the models with delete receivers that would fire."""

    label: str
    pk: Any
    deleted: dict[str, int]
    protected: dict[str, int]
    held_rows: list[str]
    receivers: list[str]


def _queryset(obj: Model) -> QuerySet[Any]:
    model = _concrete(type(obj))
    using = router.db_for_write(model, instance=obj)
    return model._base_manager.db_manager(using).filter(pk=obj.pk)


def preview(obj: Model) -> ErasurePreview:
    """The blast radius of erasing ``obj`` (a dry run of its purge), recording nothing;
    :class:`~django_housekeeping.purging.erasable.NotErasable` for a model never erased."""
    refuse_denied(type(obj))
    queryset = _queryset(obj)
    result = purge(queryset, dry_run=True, batch_size=1, archive=False)
    receivers = sorted(
        label
        for label in result["deleted"]
        if (model := apps.get_model(label)) is not None
        and (pre_delete.has_listeners(model) or post_delete.has_listeners(model))
    )
    return ErasurePreview(
        label=queryset.model._meta.label,
        pk=obj.pk,
        deleted=result["deleted"],
        protected=result["protected"],
        held_rows=held_rows(queryset),
        receivers=receivers,
    )


def _remember(record: ErasureRecord, keys: dict[type[Model], set[Any]]) -> None:
    """The erased keys of ``record``: model label and primary key of every row it deletes."""
    now = timezone.now()
    ErasedKey.objects.bulk_create(
        [
            ErasedKey(
                model=model._meta.label_lower, object_pk=str(pk), erasure=record, erased_at=now
            )
            for model, pks in keys.items()
            for pk in pks
        ],
        batch_size=1000,
    )


def erase(
    obj: Model,
    *,
    reason: str,
    requested_by: AbstractBaseUser | AnonymousUser | None = None,
    dry_run: bool = False,
) -> ErasureRecord:
    """Delete ``obj`` and what cascades from it through the purge engine; returns the
    :class:`~django_housekeeping.models.ErasureRecord` (status ``erased``, or ``protected`` when
    a ``PROTECT``/``RESTRICT`` relation kept the object). With ``dry_run``, deletes nothing and
    records what would go.

    Raises :class:`ErasureRefused` (nothing deleted, the record says ``refused``) when a legal
    hold is on the object or on a row its deletion would cascade to;
    :class:`~django_housekeeping.purging.erasable.NotErasable` (a ``ValueError``; nothing
    recorded) for a model that is never erased (docs/retention.md#erasure-scope); ``ValueError``
    when ``reason`` is empty or ``obj`` is unsaved. Any other failure of the deletion is raised
    after the record says ``failed``.
    """
    if not isinstance(obj, Model):
        raise TypeError(f"erase() needs a model instance, got {type(obj).__name__}")
    refuse_denied(type(obj))
    if obj.pk is None:
        raise ValueError(f"cannot erase an unsaved {obj._meta.label}")
    reason = reason.strip(BLANK) if isinstance(reason, str) else ""
    if not reason:
        raise ValueError("an erasure needs a reason")
    if not isinstance(dry_run, bool):
        raise TypeError("dry_run must be True or False")
    user = recorded_user(requested_by, "requested_by")
    queryset = _queryset(obj)
    label = queryset.model._meta.label
    record = ErasureRecord.objects.create(
        model=label,
        object_pk=str(obj.pk),
        reason=reason,
        requested_by=user,  # type: ignore[misc]
        dry_run=dry_run,
    )

    def finish(status: str, **fields: Any) -> None:
        record.status = status
        record.finished_at = timezone.now()
        for name, value in fields.items():
            setattr(record, name, value)
        record.save(update_fields=["status", "finished_at", *fields])

    try:
        blocking = held_rows(queryset)
        if not blocking:
            # One object: one batch, one transaction, holds checked again inside it, after the
            # holds' lock taken exclusively: no hold is placed and no purge batch deletes while
            # the erasure does (a hold placed afterwards on a row it erased is refused). The keys
            # of the rows it deletes are remembered in it (a restore skips them).
            with nullcontext() if dry_run else transaction.atomic(using=queryset.db):
                if not dry_run:
                    lock(queryset.db, exclusive=True)
                result = purge(
                    queryset,
                    dry_run=dry_run,
                    batch_size=1,
                    archive=False,
                    deleted_keys=lambda keys: _remember(record, keys),
                )
            if result["held"]:
                blocking = held_rows(queryset) or [f"{label}:{obj.pk}"]
    except Exception as exc:
        finish(ErasureRecord.Status.FAILED, error=type(exc).__name__)
        raise
    if blocking:
        finish(ErasureRecord.Status.REFUSED, held=blocking)
        raise ErasureRefused(label, obj.pk, blocking, record)
    status = ErasureRecord.Status.PROTECTED if result["protected"] else ErasureRecord.Status.ERASED
    finish(status, deleted=result["deleted"], protected=result["protected"])
    return record

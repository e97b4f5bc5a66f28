"""Legal holds: rows no purge may delete while the hold is active.

``from django_housekeeping import holds``::

    holds.place(conversation, reason="Dispute #4411", user=request.user)
    holds.is_held(conversation)   # True
    holds.release(conversation, user=request.user)

A hold names one row of any model (its content type and its primary key as text). It is active
while it is not released and its ``until``, if any, has not passed. Every purge reads the active
holds of the models it deletes from inside each batch's transaction (:func:`held_keys`, one
indexed query) and skips a held row and every row whose deletion would cascade into a held row;
the engine does that (:mod:`django_housekeeping.purging.engine`). A hold behind ``SET_NULL``,
``SET_DEFAULT`` or ``DO_NOTHING`` does not keep the parent: deleting the parent does not delete
the held row.

Placing a hold and deleting a batch serialize (:func:`lock`): each batch of a purge or an erasure
locks one row (:class:`~django_housekeeping.models.HoldLock`) in share mode at the start of its
transaction, before it reads the holds, and :func:`place` locks it exclusively before it checks
that the row still exists and writes the hold. So a hold :func:`place` returned keeps its row
from every batch that runs at that moment or later (a hold reaches through cascades: a hold on a
child row keeps its parent), and a hold on a row a batch already deleted is refused
(:class:`HoldRefused`), never confirmed.

Holds are never deleted, only released (:class:`~django_housekeeping.models.LegalHold`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import connections, router, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from django_housekeeping.models import HoldLock, LegalHold

__all__ = ["HeldKeys", "HoldRefused", "active", "held_keys", "is_held", "lock", "place", "release"]

# What a reason may not be made of alone: ASCII whitespace (the same in the API's schema).
BLANK = " \t\n\r\f\v"


# The key of the one HoldLock row.
LOCK_ROW = 1


class HoldRefused(ObjectDoesNotExist):
    """A hold on a row that no longer exists (a purge or an erasure deleted it, or deletes it at
    this moment and committed first): no hold was placed.

    An ``ObjectDoesNotExist``, so code catching that keeps working; ``label`` and ``pk`` name
    the row."""

    def __init__(self, label: str, pk: Any) -> None:
        self.label = label
        self.pk = pk
        super().__init__(
            f"cannot hold {label} {pk}: the row no longer exists (a purge or an erasure "
            "deleted it); no hold was placed"
        )


def lock(using: str, *, exclusive: bool) -> None:
    """Serialize placing holds with deleting batches on database ``using``, until the current
    transaction ends (call it inside one, first): a batch takes the lock in share mode before it
    reads the holds (batches do not wait for each other), :func:`place` exclusively.

    PostgreSQL: ``SELECT … FOR SHARE`` / ``FOR UPDATE`` on the :class:`HoldLock` row; MySQL and
    MariaDB: ``LOCK IN SHARE MODE`` / ``FOR UPDATE``; SQLite: an ``UPDATE`` of the row, which
    takes the database's write lock (SQLite has one writer at a time: batches serialize too);
    another database with ``SELECT … FOR UPDATE``: that, in both modes. One statement when the
    row exists; a missing row (a flushed database) is created again.
    """
    connection = connections[using]
    quote = connection.ops.quote_name
    table, key = quote(HoldLock._meta.db_table), quote("id")
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Takes the write lock even when no row matches: nothing to create.
            cursor.execute(f"UPDATE {table} SET {key} = {key} WHERE {key} = %s", [LOCK_ROW])
            return
        if not connection.features.has_select_for_update:
            return
        if exclusive:
            mode = "FOR UPDATE"
        elif connection.vendor == "postgresql":
            mode = "FOR SHARE"
        elif connection.vendor == "mysql":
            mode = "LOCK IN SHARE MODE"  # MySQL and MariaDB alike
        else:
            mode = "FOR UPDATE"
        statement = f"SELECT {key} FROM {table} WHERE {key} = %s {mode}"
        cursor.execute(statement, [LOCK_ROW])
        if cursor.fetchone() is None:
            # Created by migration 0009; a flush deletes it. A concurrent insert of it waits
            # for the other transaction, then inserts nothing.
            HoldLock.objects.using(using).bulk_create(
                [HoldLock(id=LOCK_ROW)], ignore_conflicts=True
            )
            cursor.execute(statement, [LOCK_ROW])


def active(now: datetime | None = None, *, using: str | None = None) -> QuerySet[LegalHold]:
    """The holds active at ``now`` (default: now): not released, ``until`` empty or later."""
    now = now or timezone.now()
    holds = LegalHold.objects.all() if using is None else LegalHold.objects.using(using)
    return holds.filter(released_at__isnull=True).filter(Q(until__isnull=True) | Q(until__gt=now))


def _concrete(model: type[Model]) -> type[Model]:
    concrete: type[Model] | None = model._meta.concrete_model
    assert concrete is not None
    return concrete


def _content_type(model: type[Model], using: str) -> ContentType:
    return ContentType.objects.db_manager(using).get_for_model(model, for_concrete_model=True)


def _saved(obj: Model) -> Model:
    if not isinstance(obj, Model):
        raise TypeError(f"holds need a model instance, got {type(obj).__name__}")
    if obj.pk is None:
        raise ValueError(f"cannot hold an unsaved {obj._meta.label}")
    return obj


def recorded_user(user: Any, argument: str = "user") -> AbstractBaseUser | None:
    """The user to record as who acted (``None`` for nobody or an anonymous user); a
    ``TypeError`` naming ``argument`` for anything else."""
    if user is None or isinstance(user, AnonymousUser):
        return None
    if not isinstance(user, AbstractBaseUser):
        raise TypeError(f"{argument} must be a user instance or None, got {type(user).__name__}")
    return user


def _holds_of(obj: Model, using: str) -> QuerySet[LegalHold]:
    content_type = _content_type(type(obj), using)
    return LegalHold.objects.using(using).filter(content_type=content_type, object_pk=str(obj.pk))


def place(
    obj: Model,
    *,
    reason: str,
    user: AbstractBaseUser | AnonymousUser | None = None,
    until: datetime | None = None,
) -> LegalHold:
    """Hold ``obj``: no purge deletes it (nor a row whose deletion would cascade into it) until
    the hold is released or ``until`` passes. Returns the new hold.

    ``reason`` is required (``ValueError`` when empty). A row may carry several holds; each is
    released by :func:`release`. Placing waits for the purge and erasure batches running at
    that moment to commit (:func:`lock`), then checks the row still exists: a hold on a row
    that is gone (a batch deleted it, itself or through a cascade from its parent) raises
    :class:`HoldRefused` and places nothing. A hold returned keeps its row from every later
    batch.
    """
    obj = _saved(obj)
    reason = reason.strip(BLANK) if isinstance(reason, str) else ""
    if not reason:
        raise ValueError("a legal hold needs a reason")
    if until is not None:
        if not isinstance(until, datetime):
            raise TypeError(f"until must be a datetime, got {type(until).__name__}")
        if timezone.is_naive(until):
            until = timezone.make_aware(until)
        if until <= timezone.now():
            raise ValueError("until is in the past: such a hold would hold nothing")
    model = _concrete(type(obj))
    using = router.db_for_write(LegalHold)
    with transaction.atomic(using=using):
        # Waits for the batches deleting now: they read the holds before this one commits.
        lock(using, exclusive=True)
        # And for a transaction of someone else's that deletes the row.
        rows = model._base_manager.db_manager(using).select_for_update().filter(pk=obj.pk)
        if not list(rows.values_list("pk", flat=True)):
            raise HoldRefused(model._meta.label, obj.pk)
        return LegalHold.objects.using(using).create(
            content_type=_content_type(model, using),
            object_pk=str(obj.pk),
            reason=reason,
            placed_by=recorded_user(user),  # type: ignore[misc]
            until=until,
        )


def release(obj: Model, *, user: AbstractBaseUser | AnonymousUser | None = None) -> int:
    """Release every active hold on ``obj`` (the next purge may delete it); how many there were."""
    obj = _saved(obj)
    using = router.db_for_write(LegalHold)
    return release_holds(active(using=using) & _holds_of(obj, using), user=user)


def release_holds(
    holds: QuerySet[LegalHold], *, user: AbstractBaseUser | AnonymousUser | None = None
) -> int:
    """Release the given holds that are not released yet; how many were released."""
    return holds.filter(released_at__isnull=True).update(
        released_at=timezone.now(), released_by=recorded_user(user)
    )


def is_held(obj: Model) -> bool:
    """Whether ``obj`` itself has an active hold (see the purge engine for the cascades)."""
    obj = _saved(obj)
    using = router.db_for_read(LegalHold)
    return (active(using=using) & _holds_of(obj, using)).exists()


def held_keys(models: Iterable[type[Model]] | None, using: str) -> dict[type[Model], set[Any]]:
    """The primary keys (as the models' Python values) of the actively held rows of ``models``
    (``None``: of every model), by concrete model; models without a held row are left out.

    One query (on the holds' ``(content_type, released_at, object_pk)`` index). A hold whose
    model is gone or whose key does not parse is ignored: it cannot name a row to delete.
    """
    return HeldKeys(models, using)()


def count_held(queryset: QuerySet[Any]) -> int:
    """How many rows of ``queryset`` an active legal hold names (the rows themselves: the rows
    kept because deleting them would cascade into a held row are what a dry run counts)."""
    keys = held_keys([queryset.model], queryset.db).get(_concrete(queryset.model))
    if not keys:
        return 0
    return queryset.filter(pk__in=list(keys)).count()


class HeldKeys:
    """:func:`held_keys` of the same models, read again at every call: what a purge asks before
    each batch (the models' content types are looked up once, at the first call)."""

    def __init__(self, models: Iterable[type[Model]] | None, using: str) -> None:
        self.concrete = None if models is None else {_concrete(model) for model in models}
        self.using = using
        self.by_id: dict[int, type[Model]] | None = None

    def _content_types(self) -> dict[int, type[Model]]:
        if self.by_id is None:
            self.by_id = {}
            if self.concrete:
                content_types = ContentType.objects.db_manager(self.using).get_for_models(
                    *self.concrete, for_concrete_models=True
                )
                self.by_id = {ct.pk: model for model, ct in content_types.items()}
        return self.by_id

    def __call__(self) -> dict[type[Model], set[Any]]:
        holds = active(using=self.using)
        by_id = self._content_types()
        if self.concrete is not None:
            if not by_id:
                return {}
            holds = holds.filter(content_type_id__in=list(by_id))
        found: dict[type[Model], set[Any]] = {}
        for content_type_id, object_pk in holds.values_list("content_type_id", "object_pk"):
            model = by_id.get(content_type_id)
            if model is None:
                model_class = (
                    ContentType.objects.db_manager(self.using)
                    .get_for_id(content_type_id)
                    .model_class()
                )
                if model_class is None:
                    continue
                model = _concrete(model_class)
            pk_field = model._meta.pk
            assert pk_field is not None
            try:
                key = pk_field.to_python(object_pk)
            except (ValidationError, ValueError, TypeError):  # a key that parses not: no row
                continue
            found.setdefault(model, set()).add(key)
        return found

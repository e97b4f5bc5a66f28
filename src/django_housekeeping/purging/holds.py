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

Holds are never deleted, only released (:class:`~django_housekeeping.models.LegalHold`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import router, transaction
from django.db.models import Model, Q, QuerySet
from django.utils import timezone

from django_housekeeping.models import LegalHold

__all__ = ["HeldKeys", "active", "held_keys", "is_held", "place", "release"]

# What a reason may not be made of alone: ASCII whitespace (the same in the API's schema).
BLANK = " \t\n\r\f\v"


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
    released by :func:`release`. The row is locked while the hold is written, so that a hold is
    never placed on a row a purge batch is deleting at that moment: placing a hold on a row
    that is gone raises ``ObjectDoesNotExist`` (the model's ``DoesNotExist``).
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
        # Waits for a purge batch deleting the row; raises DoesNotExist when it deleted it.
        model._base_manager.db_manager(using).select_for_update().get(pk=obj.pk)
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

"""What a restore may write, decided before its first write and while it loads: the models a
forced (manifest-less) archive may hold, accounts it may not create or raise, and the keys an
erasure deleted, which it never brings back.

- :func:`purge_reach`: the models a purge of a model could delete or update (the model, its
  multi-table parents, and everything its deletion cascades to or updates, generic relations and
  many-to-many links included) — what ``restore(force=True, reach=…)`` admits.
- :class:`PrivilegeGuard`: no restore creates a superuser or a staff account, nor adds a group or
  a permission to a user: rows of ``AUTH_USER_MODEL`` with ``is_superuser``/``is_staff`` set, and
  the links of its ``groups``/``user_permissions``, are admitted only when the database holds
  them already as archived.
- :func:`erased_keys`: which keys of a chunk of rows an erasure deleted
  (:class:`~django_housekeeping.models.ErasedKey`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.exceptions import FieldDoesNotExist
from django.db.models import DO_NOTHING, PROTECT, RESTRICT, Model

from django_housekeeping import compat
from django_housekeeping.purging.archive import ArchiveError
from django_housekeeping.purging.planner import chunked, concrete, in_keys

# The on_delete rules under which a purge neither deletes nor updates the referencing rows.
_KEEPING = (PROTECT, RESTRICT, DO_NOTHING)

#: The flags of ``AUTH_USER_MODEL`` a restore may not raise.
PRIVILEGE_FLAGS = ("is_superuser", "is_staff")
#: Its many-to-many relations a restore may not add links to.
PRIVILEGE_LINKS = ("groups", "user_permissions")


def purge_reach(models: Iterable[type[Model]]) -> set[str]:
    """The labels (``"app_label.model_name"``) of the models a purge of ``models`` could delete
    or update."""
    reached: set[type[Model]] = set()
    pending = [concrete(model) for model in models]
    while pending:
        model = pending.pop()
        if model in reached:
            continue
        reached.add(model)
        opts = model._meta
        pending.extend(concrete(parent) for parent in opts.parents)
        relation: Any
        for relation in compat.candidate_relations_to_delete(opts):
            if relation.on_delete not in _KEEPING:  # a purge deletes or updates these rows
                pending.append(concrete(relation.related_model))
        for private in opts.private_fields:
            if hasattr(private, "bulk_related_objects"):  # a GenericRelation
                pending.append(concrete(private.related_model))
    return {model._meta.label_lower for model in reached}


def _links(user_model: type[Model]) -> dict[type[Model], str]:
    """The through models of the user model's privilege links, and their user column."""
    links: dict[type[Model], str] = {}
    for name in PRIVILEGE_LINKS:
        try:
            relation: Any = user_model._meta.get_field(name)
        except FieldDoesNotExist:  # a custom user model without it
            continue
        if getattr(relation, "many_to_many", False):
            links[relation.remote_field.through] = relation.m2m_field_name()
    return links


class PrivilegeGuard:
    """Collects, during the first pass, the rows that would grant privileges; :meth:`check`
    refuses (one :class:`ArchiveError` line) before the first write if any would create or
    raise them."""

    def __init__(self, path: str, using: str) -> None:
        self.path = path
        self.using = using
        user_model = (
            concrete(get_user_model()) if apps.is_installed("django.contrib.auth") else None
        )
        self.user_model = user_model
        self.flags = [f for f in PRIVILEGE_FLAGS if _has_field(user_model, f)] if user_model else []
        self.links = _links(user_model) if user_model is not None else {}
        # Per model: archived key → (line number, the archived values compared).
        self.rows: dict[type[Model], dict[Any, tuple[int, tuple[Any, ...]]]] = {}

    def watches(self, model: type[Model]) -> bool:
        return model is self.user_model or model in self.links

    def see(self, number: int, instance: Model, m2m: dict[str, list[Any]] | None) -> None:
        """A row of a watched model, as read in the first pass."""
        model = concrete(type(instance))
        if model is self.user_model:
            for name in PRIVILEGE_LINKS:
                if m2m and m2m.get(name):
                    raise ArchiveError(
                        f"{self.path}: line {number}, field {name!r}: a restore does not add "
                        f"{name} to a user ({model._meta.label_lower} pk={instance.pk!r}); "
                        "nothing was loaded"
                    )
            values = tuple(getattr(instance, flag) for flag in self.flags)
            if any(values):
                self.rows.setdefault(model, {})[instance.pk] = (number, values)
        elif model in self.links:
            fields = [f.attname for f in model._meta.local_concrete_fields if not f.primary_key]
            values = tuple(getattr(instance, name) for name in fields)
            self.rows.setdefault(model, {})[instance.pk] = (number, values)

    def check(self) -> None:
        """Refuse when a watched row is not in the database as archived."""
        for model, rows in self.rows.items():
            if model is self.user_model:
                names = self.flags
            else:
                names = [f.attname for f in model._meta.local_concrete_fields if not f.primary_key]
            present: dict[Any, tuple[Any, ...]] = {}
            manager = model._base_manager.db_manager(self.using)
            for chunk in chunked(list(rows), 500):
                for values in manager.filter(in_keys(model, "pk", chunk)).values_list("pk", *names):
                    present[values[0]] = tuple(values[1:])
            for pk, (number, values) in rows.items():
                there = present.get(pk)
                if model is self.user_model:
                    raised = there is None or any(
                        new and not old for new, old in zip(values, there, strict=True)
                    )
                    if raised:
                        flags = ", ".join(
                            name for name, value in zip(names, values, strict=True) if value
                        )
                        raise ArchiveError(
                            f"{self.path}: line {number}, field {names[0]!r}: a restore does not "
                            f"create or raise a privileged account ({model._meta.label_lower} "
                            f"pk={pk!r} with {flags}); nothing was loaded"
                        )
                elif there != values:
                    raise ArchiveError(
                        f"{self.path}: line {number}: a restore does not add a group or a "
                        f"permission to a user ({model._meta.label_lower} pk={pk!r}); nothing "
                        "was loaded"
                    )


def _has_field(model: type[Model], name: str) -> bool:
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def erased_keys(label: str, keys: list[Any]) -> set[str]:
    """The keys (as text) among ``keys`` of the model ``label`` that an erasure deleted (read
    where the router reads erased keys)."""
    if not keys or not apps.is_installed("django_housekeeping"):
        return set()
    erased_key = apps.get_model("django_housekeeping", "ErasedKey")
    found: set[str] = set()
    for chunk in chunked([str(key) for key in keys], 500):
        found.update(
            erased_key._default_manager.filter(model=label, object_pk__in=chunk).values_list(
                "object_pk", flat=True
            )
        )
    return found


def models_erased(labels: Iterable[str]) -> set[str]:
    """The labels among ``labels`` of the models an erasure deleted rows of (one query: the
    keys of the others need no look-up)."""
    labels = list(labels)
    if not labels or not apps.is_installed("django_housekeeping"):
        return set()
    erased_key = apps.get_model("django_housekeeping", "ErasedKey")
    return set(
        erased_key._default_manager.filter(model__in=labels)
        .values_list("model", flat=True)
        .distinct()
    )

"""A list of runs written by a converter compiled once per list, not by DRF's field walk per run.

DRF writes each item of a ``many=True`` serializer by copying the child's fields and, for every
field of every item, looking the attribute up and calling the field (the nested serializers of a
run's ``details`` and ``progress`` too): about 40 fields a run, some 0.1 ms each page row, the one
cost of the ``runs`` page that grows with the page (docs/api.md). The run serializers read plain
dicts (the presenter's :func:`~django_housekeeping.presenters.run_payload`), so the same output is
one dict comprehension per item, the fields' own ``to_representation`` calls, compiled from the
serializer's fields when the list is written. A serializer with a field this does not handle (a
``source="*"``, a dotted source) is written by DRF, and so is an item missing a key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rest_framework import serializers

from django_housekeeping.compat import readable_fields

Converter = Callable[[Any], Any]


# Compiled once per serializer class: the library's serializers declare their fields on the
# class, and none of them reads the request or the context while writing a value.
_compiled: dict[type[serializers.Serializer[Any]], Converter | None] = {}


def compile_representation(serializer: serializers.Serializer[Any]) -> Converter | None:
    """A function writing a dict as ``serializer.to_representation`` would, or ``None``
    (compiled once per class: for serializers whose fields are the same for every instance)."""
    kind = type(serializer)
    if kind not in _compiled:
        try:
            # A fresh instance: what is kept holds no request or context of a first caller.
            fresh = kind()
        except TypeError:
            return _compile(serializer)
        _compiled[kind] = _compile(fresh)
    return _compiled[kind]


def _compile(serializer: serializers.Serializer[Any]) -> Converter | None:
    parts: list[tuple[str, str, Converter]] = []
    for field in readable_fields(serializer):
        source_attrs = getattr(field, "source_attrs", None)
        if field.source == "*" or not source_attrs or len(source_attrs) != 1:
            return None
        convert: Converter | None
        if isinstance(field, serializers.ListSerializer):
            child = field.child
            item = (
                compile_representation(child) if isinstance(child, serializers.Serializer) else None
            )
            convert = None if item is None else _list_of(item)
        elif isinstance(field, serializers.Serializer):
            convert = compile_representation(field)
        else:
            convert = field.to_representation
        if convert is None:
            return None
        parts.append((str(field.field_name), source_attrs[0], convert))

    def represent(data: Any) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for name, key, convert in parts:
            value = data[key]
            result[name] = None if value is None else convert(value)
        return result

    return represent


def _list_of(item: Converter) -> Converter:
    def represent(values: Any) -> list[Any]:
        return [item(value) for value in values]

    return represent


def represent(serializer: serializers.Serializer[Any], data: Any) -> Any:
    """``serializer``'s representation of the dict ``data``, compiled (DRF's when it cannot be)."""
    compiled = compile_representation(serializer)
    if compiled is not None:
        try:
            return compiled(data)
        except KeyError:
            pass
    return serializer.to_representation(data)


class CompiledListSerializer(serializers.ListSerializer):  # type: ignore[type-arg]
    """``many=True`` of a serializer of dicts (``child.payload(item)`` turns an item into one)."""

    def to_representation(self, data: Any) -> list[Any]:
        child: Any = self.child
        represent = compile_representation(child)
        if represent is None:
            return super().to_representation(data)
        items = []
        for item in data:
            payload = child.payload(item)
            try:
                items.append(represent(payload))
            except KeyError:
                items.append(child.to_representation(item))
        return items

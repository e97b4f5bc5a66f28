"""JSON as the faces write it: :func:`to_json` for a person (summaries, the command line), and
:class:`PayloadEncoder` for the payloads the dashboard serves, which writes date-times as the API
does, so that the two faces answer the same text for the same value."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.utils import timezone


def to_json(value: Any, *, indent: int | None = None) -> str:
    return json.dumps(value, cls=DjangoJSONEncoder, indent=indent, sort_keys=indent is not None)


def write_datetime(value: datetime) -> str:
    """``value`` as the API's date-times (DRF's ``DateTimeField`` in its default ISO 8601 format):
    in the current time zone (naive without ``USE_TZ``), to the microsecond, ``Z`` for UTC."""
    if settings.USE_TZ:
        value = (
            timezone.localtime(value) if timezone.is_aware(value) else timezone.make_aware(value)
        )
    elif timezone.is_aware(value):
        value = timezone.make_naive(value, UTC)
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class PayloadEncoder(DjangoJSONEncoder):
    """Django's encoder, with date-times written by :func:`write_datetime` (Django's would cut
    them to the millisecond and keep the database's UTC offset)."""

    def default(self, o: Any) -> Any:
        if isinstance(o, datetime):
            return write_datetime(o)
        return super().default(o)


def payload_json(value: Any) -> str:
    """The text the dashboard serves for a payload."""
    return json.dumps(value, cls=PayloadEncoder)

"""The trigger throttle: how many runs one person may start per period, on every face together.

``HOUSEKEEPING["TRIGGER_THROTTLE_RATE"]`` (``"30/minute"`` by default; ``None`` turns it off) is
counted in the database, in one :class:`~django_housekeeping.models.TriggerWindow` row per person,
so it holds across every worker process and host: a per-process cache would let each gunicorn
worker grant the whole rate. Each request takes one unit with a conditional ``UPDATE`` (``count <
limit``), which the database applies atomically, so concurrent requests never exceed the limit.
Windows are fixed (aligned on the period), as in most rate limiters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from django_housekeeping.conf.settings import Rate
from django_housekeeping.models import TriggerWindow

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Refusal:
    """A request over the rate: how many it allows and when the next window opens."""

    rate: Rate
    retry_after: float  # seconds


def take(key: str, rate: Rate, now: datetime | None = None) -> Refusal | None:
    """Take one trigger from ``key``'s budget; a :class:`Refusal` when it is spent."""
    now = now or timezone.now()
    elapsed = (now - EPOCH).total_seconds()
    window = EPOCH + timedelta(seconds=elapsed - elapsed % rate.period)
    for _attempt in range(3):
        if TriggerWindow.objects.filter(key=key, window_start=window, count__lt=rate.limit).update(
            count=F("count") + 1
        ):
            return None
        if TriggerWindow.objects.filter(key=key, window_start=window).exists():
            retry_after = (window + timedelta(seconds=rate.period) - now).total_seconds()
            return Refusal(rate, max(retry_after, 0.0))
        # A new window: move the key's row to it (only one concurrent request can), or create it.
        if (
            TriggerWindow.objects.filter(key=key)
            .exclude(window_start=window)
            .update(window_start=window, count=1)
        ):
            return None
        try:
            with transaction.atomic():
                TriggerWindow.objects.create(key=key, window_start=window, count=1)
            return None
        except IntegrityError:
            continue  # another request created it first: count against it
    raise RuntimeError(f"could not take a trigger from the throttle of {key!r}")

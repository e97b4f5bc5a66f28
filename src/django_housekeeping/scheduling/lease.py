"""Leader election: one scheduler per deployment holds a lease row in the database.

The lease has an owner, a fencing token (incremented on every change of owner), an expiry and a
heartbeat. A standby takes it over once it has expired; the holder renews it well before then and
stops acting as leader on its own as soon as its last renewal is older than the TTL, whether or not
it could reach the database (self-fencing, measured on the monotonic clock, which keeps running
while a process is stopped).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from django_housekeeping.models import SchedulerLease

logger = logging.getLogger("django_housekeeping.scheduler")

LEASE_NAME = "scheduler"
NEVER_HELD = datetime(2000, 1, 1, tzinfo=UTC)


class Lease:
    """This process's view of the scheduler lease."""

    def __init__(self, ttl: float, name: str = LEASE_NAME) -> None:
        if ttl <= 0:
            raise ValueError("the lease TTL must be positive")
        self.name = name
        self.ttl = ttl
        self.host = socket.gethostname()[:255]
        self.pid = os.getpid()
        self.owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:12]}"
        self.token: int | None = None
        self._renewed_monotonic = 0.0

    @property
    def renew_every(self) -> float:
        return self.ttl / 3

    def held(self) -> bool:
        """Whether this process may act as leader now, judged without the database."""
        return self.token is not None and time.monotonic() < self._renewed_monotonic + self.ttl

    def acquire_or_renew(self) -> bool:
        """Renew the lease if held and due, else take it if it has expired. True while leader."""
        now_monotonic = time.monotonic()
        if self.held() and now_monotonic < self._renewed_monotonic + self.renew_every:
            return True
        if self.token is not None:
            if self._renew():
                return True
            logger.warning("Lost the scheduler lease (%s); standing by", self.owner)
            self.token = None
            return False
        return self._take_over()

    def release(self) -> None:
        """Give the lease up at once, so that a standby need not wait for it to expire."""
        if self.token is None:
            return
        SchedulerLease.objects.filter(name=self.name, owner=self.owner, token=self.token).update(
            owner="", expires_at=timezone.now()
        )
        logger.info("Released the scheduler lease (%s)", self.owner)
        self.token = None

    def _renew(self) -> bool:
        assert self.token is not None
        started = time.monotonic()
        now = timezone.now()
        renewed = SchedulerLease.objects.filter(
            name=self.name, owner=self.owner, token=self.token
        ).update(expires_at=now + timedelta(seconds=self.ttl), heartbeat_at=now)
        if renewed:
            self._renewed_monotonic = started
        return bool(renewed)

    def _take_over(self) -> bool:
        now = timezone.now()
        self._ensure_row()
        current = SchedulerLease.objects.filter(name=self.name).values("expires_at").first()
        if current is not None and current["expires_at"] > now:
            return False  # held by a live leader: nothing to write
        started = time.monotonic()
        with transaction.atomic():
            taken = SchedulerLease.objects.filter(
                Q(expires_at__lte=now) | Q(owner=""), name=self.name
            ).update(
                owner=self.owner,
                token=F("token") + 1,
                host=self.host,
                pid=self.pid,
                acquired_at=now,
                heartbeat_at=now,
                expires_at=now + timedelta(seconds=self.ttl),
            )
            if not taken:
                return False
            self.token = SchedulerLease.objects.values_list("token", flat=True).get(name=self.name)
        self._renewed_monotonic = started
        logger.info("Acquired the scheduler lease (%s, token %s)", self.owner, self.token)
        return True

    def _ensure_row(self) -> None:
        if SchedulerLease.objects.filter(name=self.name).exists():
            return
        try:
            with transaction.atomic():
                # Expired from the start, so that the first taker need not wait a tick.
                SchedulerLease.objects.create(name=self.name, expires_at=NEVER_HELD)
        except IntegrityError:
            pass  # another process created it first

"""Throttling a purge: a pause in proportion to the work done, and waits while replicas lag.

pt-archiver's ``--sleep-coef`` and ``--max-lag``, for the purge engine's batch loop:

- ``pause``: after each batch the purge sleeps ``pause * the batch's seconds`` (``0.5``: the purge
  takes about 1.5 times as long, and leaves the database idle a third of the time);
- ``max_replica_lag``: before each batch the purge reads the replay lag of every database alias
  in ``HOUSEKEEPING["REPLICAS"]`` and waits while any of them is above the limit, reading again
  every :data:`POLL_SECONDS`.

A replica whose lag cannot be read — it does not answer within :data:`CONNECT_TIMEOUT` seconds, it
is no replica (yet), its replication is stopped, its database has no lag to read (SQLite) — is
reported (``unreadable_replicas`` in the result, one warning in the log) and **not waited on**: the
purge goes on, throttled by the replicas it can read, and tries the unreadable one again after
:data:`RETRY_SECONDS`. A replica that cannot be read does not stop a retention job; a replica that
lags does. A reading that fails on a replica that answers (PostgreSQL cancels a hot standby's
queries that conflict with what it replays) is reported too, but the replica's last lag stands
until the next reading, up to :data:`TRANSIENT_FAILURES` failures in a row.

``max_seconds`` bounds the waits too: when the purge's time runs out while it waits, it stops
there, ``"partial": True``, and the next run continues.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypedDict

from django.db import DatabaseError, connections
from django.db.backends.base.base import BaseDatabaseWrapper

from django_housekeeping.conf import housekeeping_settings

logger = logging.getLogger(__name__)

# How the throttle sleeps (a module attribute, so tests can drive it).
sleep = time.sleep

# Seconds between two readings of the replicas' lag while a purge waits on them.
POLL_SECONDS = 1.0
# Seconds a replica has to accept a connection: one that does not answer costs no more.
CONNECT_TIMEOUT = 2
# Seconds before a replica whose lag could not be read is tried again.
RETRY_SECONDS = 60.0
# A query a replica that answers cancels (a recovery conflict) is tried again at once, this many
# times in all; a reading that still fails is reported and the replica's last lag stands, for up
# to TRANSIENT_FAILURES readings in a row, before it is left alone for RETRY_SECONDS.
ATTEMPTS = 3
TRANSIENT_FAILURES = 5

# PostgreSQL, on the replica: 0 when it has replayed all the WAL it received (an idle primary
# writes no transaction, so the age of the last replayed one is no lag), else the age of the last
# transaction it replayed. NULL when the server is not in recovery (no replica).
POSTGRES_LAG = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
END, pg_is_in_recovery()
"""


Notify = Callable[[str | None], None]


class ReplicaUnreadable(Exception):
    """The lag of a replica could not be read; the message says why, in a few words.

    ``transient``: the replica answered, but this query failed (PostgreSQL cancels a hot
    standby's queries that conflict with what it replays): the next reading may well succeed.
    """

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class ThrottleResult(TypedDict):
    """The time a purge spent throttled: ``paused_seconds`` (the ``pause`` after its batches),
    ``replica_wait_seconds`` (waiting while a replica lagged), ``max_replica_lag`` (the highest
    lag read, in seconds; ``None`` when none was read) and ``unreadable_replicas`` (alias → why
    its lag could not be read)."""

    paused_seconds: float
    replica_wait_seconds: float
    max_replica_lag: float | None
    unreadable_replicas: dict[str, str]


def lag_seconds(value: Any) -> float | None:
    """``max_replica_lag`` as seconds: a ``timedelta`` or a number; ``None`` stays ``None``."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


# -- reading a replica's lag ---------------------------------------------------------------------


class ReplicaLag:
    """Reads the replay lag of replicas (database aliases), each on a connection of its own.

    The connection is the alias's settings with a connect timeout of at most
    :data:`CONNECT_TIMEOUT` seconds, apart from Django's connection of the alias (it is outside any
    transaction the purge has open), and read with its own vendor's query whatever the primary's.
    :meth:`close` closes them.
    """

    def __init__(self) -> None:
        self._connections: dict[str, BaseDatabaseWrapper] = {}

    def __call__(self, alias: str) -> float:
        """The lag of ``alias`` in seconds; raises :class:`ReplicaUnreadable`."""
        try:
            wrapper = self._connection(alias)
        except Exception as error:  # an unknown alias, a backend that fails to load
            raise ReplicaUnreadable(_reason(error)) from error
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return _read(wrapper)
            except ReplicaUnreadable:
                raise
            except Exception as error:  # connection refused, timed out, dropped; query cancelled
                if wrapper.connection is None or not wrapper.is_usable():
                    self._drop(alias)
                    raise ReplicaUnreadable(_reason(error)) from error
                if attempt == ATTEMPTS:
                    raise ReplicaUnreadable(_reason(error), transient=True) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self, alias: str) -> BaseDatabaseWrapper:
        wrapper = self._connections.get(alias)
        if wrapper is None:
            source = connections[alias]
            settings_dict = dict(source.settings_dict)
            options = dict(settings_dict.get("OPTIONS") or {})
            options.pop("pool", None)  # one connection, for as long as the purge runs
            configured = options.get("connect_timeout")
            if source.vendor in ("postgresql", "mysql"):
                options["connect_timeout"] = (
                    min(int(configured), CONNECT_TIMEOUT) if configured else CONNECT_TIMEOUT
                )
            settings_dict["OPTIONS"] = options
            # An alias of its own: the connection handler does not hold this connection (and
            # Django's test cases, which guard the handler's aliases, let it connect).
            wrapper = type(source)(settings_dict, alias=f"{alias} (replica lag)")
            self._connections[alias] = wrapper
        return wrapper

    def _drop(self, alias: str) -> None:
        wrapper = self._connections.pop(alias, None)
        if wrapper is not None:
            with suppress(DatabaseError):  # a broken connection: nothing more to close
                wrapper.close()

    def close(self) -> None:
        for alias in list(self._connections):
            self._drop(alias)


def _read(wrapper: BaseDatabaseWrapper) -> float:
    if wrapper.vendor == "postgresql":
        with wrapper.cursor() as cursor:
            cursor.execute(POSTGRES_LAG)
            lag, in_recovery = cursor.fetchone()
        if not in_recovery:
            raise ReplicaUnreadable("not a replica (the server is not in recovery)")
        return float(lag)
    if wrapper.vendor == "mysql":
        return _mysql_lag(wrapper)
    raise ReplicaUnreadable(f"no replica lag to read on {wrapper.vendor}")


def _mysql_lag(wrapper: BaseDatabaseWrapper) -> float:
    """``Seconds_Behind_Source`` (MySQL 8.0.22+, MariaDB 10.5.1+: ``SHOW REPLICA STATUS``) or
    ``Seconds_Behind_Master`` (older servers: ``SHOW SLAVE STATUS``); the highest of a
    multi-source replica's channels."""
    with wrapper.cursor() as cursor:
        try:
            cursor.execute("SHOW REPLICA STATUS")
        except DatabaseError:
            cursor.execute("SHOW SLAVE STATUS")
        columns = [column[0] for column in cursor.description or ()]
        rows = cursor.fetchall()
    if not rows:
        raise ReplicaUnreadable("not a replica (no replication is configured)")
    lags = []
    for row in rows:
        status = dict(zip(columns, row, strict=False))
        lag = status.get("Seconds_Behind_Source", status.get("Seconds_Behind_Master"))
        if lag is None:
            raise ReplicaUnreadable("replication is stopped (Seconds_Behind_Source is NULL)")
        lags.append(float(lag))
    return max(lags)


def _reason(error: Exception) -> str:
    """The first line of an error, with its type."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0]}" if text else type(error).__name__


# -- the throttle --------------------------------------------------------------------------------


@dataclass
class Throttle:
    """The throttle of one purge; the engine calls :meth:`before_batch` and :meth:`after_batch`.

    ``clock`` is the purge's clock and ``deadline`` the clock's value at which its ``max_seconds``
    run out (``None``: no bound). ``read_lag(alias)`` returns a replica's lag in seconds or raises
    :class:`ReplicaUnreadable`. ``notify(message)`` is told ``"paused: replica lag 7 s"`` while
    the purge waits, and ``None`` when it goes on.
    """

    clock: Callable[[], float]
    pause: float = 0.0
    max_lag: float | None = None
    replicas: Sequence[str] = ()
    deadline: float | None = None
    read_lag: Callable[[str], float] = field(default_factory=ReplicaLag)
    notify: Notify | None = None
    paused_seconds: float = 0.0
    replica_wait_seconds: float = 0.0
    max_replica_lag: float | None = None
    unreadable: dict[str, str] = field(default_factory=dict)
    _retry_at: dict[str, float] = field(default_factory=dict)
    _caught_up_at: dict[str, float] = field(default_factory=dict)
    _last_lag: dict[str, float] = field(default_factory=dict)
    _failures: dict[str, int] = field(default_factory=dict)

    @property
    def watches_replicas(self) -> bool:
        return self.max_lag is not None and bool(self.replicas)

    def before_batch(self) -> bool:
        """Wait while a replica lags more than ``max_lag``; ``False`` when the purge's time ran
        out while it waited (the purge stops, partial)."""
        if not self.watches_replicas:
            return True
        assert self.max_lag is not None
        waited_since: float | None = None
        try:
            while True:
                lag, alias = self._highest_lag()
                if lag is None or lag <= self.max_lag:
                    return True
                now = self.clock()
                if waited_since is None:
                    waited_since = now
                if self.deadline is not None and now >= self.deadline:
                    return False
                if self.notify is not None:
                    self.notify(f"paused: replica lag {lag:.0f} s ({alias})")
                wait = POLL_SECONDS
                if self.deadline is not None:
                    wait = min(wait, max(self.deadline - now, 0.0))
                sleep(wait)
        finally:
            if waited_since is not None:
                self.replica_wait_seconds += self.clock() - waited_since
                if self.notify is not None:
                    self.notify(None)

    def after_batch(self, batch_seconds: float) -> None:
        """Sleep ``pause * batch_seconds`` (no longer than the purge's time left)."""
        if self.pause <= 0 or batch_seconds <= 0:
            return
        wait = self.pause * batch_seconds
        if self.deadline is not None:
            wait = min(wait, max(self.deadline - self.clock(), 0.0))
        if wait <= 0:
            return
        started = self.clock()
        sleep(wait)
        self.paused_seconds += self.clock() - started

    def _highest_lag(self) -> tuple[float | None, str | None]:
        """The highest lag among the replicas that can be read, and whose it is."""
        highest: float | None = None
        highest_alias: str | None = None
        for alias in self.replicas:
            retry_at = self._retry_at.get(alias)
            if retry_at is not None and self.clock() < retry_at:
                continue
            try:
                lag = self._bounded(alias, self.read_lag(alias))
            except ReplicaUnreadable as error:
                last = self._unreadable(alias, error)
                if last is None:
                    continue
                lag = last
            else:
                self._retry_at.pop(alias, None)
                self._failures.pop(alias, None)
                self._last_lag[alias] = lag
            if self.max_replica_lag is None or lag > self.max_replica_lag:
                self.max_replica_lag = lag
            if highest is None or lag > highest:
                highest, highest_alias = lag, alias
        return highest, highest_alias

    def _unreadable(self, alias: str, error: ReplicaUnreadable) -> float | None:
        """Report a replica whose lag could not be read; the lag to go by meanwhile: its last
        one after a transient failure (the next reading will tell), else none — it is left alone
        for :data:`RETRY_SECONDS`."""
        if alias not in self.unreadable:
            logger.warning(
                "replica %r: its lag cannot be read (%s); the purge does not wait on it",
                alias,
                error,
            )
        self.unreadable[alias] = str(error)
        failures = self._failures[alias] = self._failures.get(alias, 0) + 1
        if error.transient and failures < TRANSIENT_FAILURES:
            return self._last_lag.get(alias)
        self._retry_at[alias] = self.clock() + RETRY_SECONDS
        self._failures.pop(alias, None)
        return None

    def _bounded(self, alias: str, lag: float) -> float:
        """A replica that had replayed everything when this purge last read it is behind by no
        more than the time since: after a quiet hour on the primary, the age of the last
        transaction the replica replayed is an hour, but what it has still to replay was written
        since it was last seen caught up."""
        now = self.clock()
        if lag <= 0:
            self._caught_up_at[alias] = now
            return 0.0
        caught_up_at = self._caught_up_at.get(alias)
        return min(lag, now - caught_up_at) if caught_up_at is not None else lag

    def close(self) -> None:
        close = getattr(self.read_lag, "close", None)
        if close is not None:
            close()

    def result(self) -> ThrottleResult:
        return ThrottleResult(
            paused_seconds=round(self.paused_seconds, 3),
            replica_wait_seconds=round(self.replica_wait_seconds, 3),
            max_replica_lag=(
                round(self.max_replica_lag, 3) if self.max_replica_lag is not None else None
            ),
            unreadable_replicas=dict(sorted(self.unreadable.items())),
        )


def build_throttle(
    *,
    pause: float | None,
    max_replica_lag: timedelta | float | None,
    dry_run: bool,
    clock: Callable[[], float],
    notify: Notify | None = None,
) -> Throttle:
    """The throttle of a purge: its ``pause`` and ``max_replica_lag``, or the settings'
    (``PURGE_PAUSE``, ``MAX_REPLICA_LAG`` on the ``REPLICAS``). A dry run writes nothing for the
    replicas to replay and is not slowed down: it is not throttled."""
    if dry_run:
        return Throttle(clock=clock)
    if pause is None:
        pause = housekeeping_settings.PURGE_PAUSE
    if max_replica_lag is None:
        max_replica_lag = housekeeping_settings.MAX_REPLICA_LAG
    replicas = tuple(housekeeping_settings.REPLICAS)
    return Throttle(
        clock=clock,
        pause=float(pause),
        max_lag=lag_seconds(max_replica_lag) if replicas else None,
        replicas=replicas,
        read_lag=ReplicaLag(),
        notify=notify,
    )

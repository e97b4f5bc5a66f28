"""Throttling a purge: a pause in proportion to the work done, and waits while replicas lag.

pt-archiver's ``--sleep-coef`` and ``--max-lag``, for the purge engine's batch loop:

- ``pause``: after each batch the purge sleeps ``pause * the batch's seconds`` (``0.5``: the purge
  takes about 1.5 times as long, and leaves the database idle a third of the time);
- ``max_replica_lag``: before each batch the purge reads the replay lag of every database alias
  in ``HOUSEKEEPING["REPLICAS"]`` and waits while any of them is above the limit, reading again
  every :data:`POLL_SECONDS`.

A lag in seconds is the age of the last transaction a replica replayed. It cannot see the WAL
the replica has received and not yet replayed: a replica twenty times slower than its primary
shows a lag under the limit while the primary writes a backlog it needs half a minute to replay,
and the lag climbs after the purge has stopped writing. Nor does it tell a backlog of
transactions from one of WAL that holds none: after a large purge, the replica replays the
autovacuum's WAL, and the age of its last transaction grows with no transaction to replay. So on
PostgreSQL, where a replica tells how many bytes it has still to replay
(``pg_last_wal_receive_lsn() - pg_last_wal_replay_lsn()``), the throttle measures how fast it
replays (:meth:`_Replay.learn_speed`) and how much WAL a batch writes (the bytes it received
across one batch), and once it knows the speed, it goes by the lag **the replica will reach**:
the time it needs to replay what it has.

- it waits while that time is above :data:`BACKLOG_SHARE` of the limit (35 %), reading again when
  it should be down to it;
- an adaptive purge (no ``batch_size``) cuts its batches so that one batch takes the replica no
  more than :data:`BATCH_SHARE` of the limit (30 %) to replay;

the rest of the limit is a margin for the replay speed, an estimate.

The lag then stays about under the limit, whatever the replica's speed. A replica that is behind
before its speed is known is read again after :data:`PROBE_SECONDS` (meanwhile, its lag in
seconds is the limit); one whose replay stalls is waited on until it replays again. MySQL and
MariaDB tell no backlog in bytes that compares with the primary's: their
``Seconds_Behind_Source`` is the limit.

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
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass, field, replace
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
# Seconds before a replica that is behind, and whose replay speed is not known yet, is read again
# to learn it.
PROBE_SECONDS = 0.25
# On PostgreSQL, the shares of max_replica_lag the throttle plans with: the purge waits while a
# replica needs more than BACKLOG_SHARE of it to replay its backlog, and one batch may take the
# replica BATCH_SHARE of it to replay. The rest is a margin for the replay speed, an estimate
# (a replica replays some WAL faster than other: the autovacuum's pages faster than row deletes).
BACKLOG_SHARE = 0.35
BATCH_SHARE = 0.3
# A replica's replay speed is measured over its last SPEED_WINDOW seconds of replaying; readings
# further apart tell nothing of it.
SPEED_WINDOW = 10.0
# Seconds a replica has to accept a connection: one that does not answer costs no more.
CONNECT_TIMEOUT = 2
# Seconds before a replica whose lag could not be read is tried again.
RETRY_SECONDS = 60.0
# A query a replica that answers cancels (a recovery conflict) is tried again at once, this many
# times in all; a reading that still fails is reported and the replica's last lag stands, for up
# to TRANSIENT_FAILURES readings in a row, before it is left alone for RETRY_SECONDS.
ATTEMPTS = 3
TRANSIENT_FAILURES = 5

# PostgreSQL, on the replica: its lag, 0 when it has replayed all the WAL it received (an idle
# primary writes no transaction, so the age of the last replayed one is no lag), else the age of
# the last transaction it replayed; NULL when the server is not in recovery (no replica). Then the
# bytes of WAL it has received and not replayed, and its replay position in bytes (NULL when no
# WAL receiver streams to it).
POSTGRES_LAG = """
SELECT CASE
    WHEN NOT pg_is_in_recovery() THEN NULL
    WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
    ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0)
END,
pg_is_in_recovery(),
GREATEST(pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()), 0),
pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')
"""
# Milliseconds the lag query may take on a replica that accepted the connection.
STATEMENT_TIMEOUT_MS = 2000


Notify = Callable[[str | None], None]


@dataclass(frozen=True)
class Reading:
    """What one reading of a replica tells: its ``lag`` in seconds and, where the server tells
    them (PostgreSQL), the bytes of WAL it has received and not yet replayed (``behind``) and
    its replay position in bytes (``replayed``)."""

    lag: float
    behind: int | None = None
    replayed: int | None = None

    @property
    def received(self) -> int | None:
        """The replica's receive position in bytes."""
        if self.behind is None or self.replayed is None:
            return None
        return self.replayed + self.behind


@dataclass
class _Replay:
    """What the throttle has learnt of one replica's replay: its last reading and when it was
    read, the intervals (seconds, bytes replayed) it was replaying all along, its replay speed
    measured on them and the least it can be (bytes a second), and the WAL one batch unit writes
    (bytes per root row of a batch)."""

    reading: Reading | None = None
    read_at: float = 0.0
    busy: deque[tuple[float, int]] = field(default_factory=deque)
    speed: float | None = None
    at_least: float | None = None
    bytes_per_unit: float | None = None
    received_before_batch: int | None = None

    def learn_speed(self, seconds: float, behind: int, replayed: int) -> None:
        """Learn from two readings ``seconds`` apart: the replica was ``behind`` bytes at the
        first and ``replayed`` bytes between them. A replica that did not get through the
        backlog it had at the first was replaying all along: the bytes it replayed tell its
        speed (summed over the last :data:`SPEED_WINDOW` seconds of such intervals, so that a
        replica paused or slowed for an instant does not read as stopped). One that got through
        it may have waited for WAL: it is at least that fast."""
        if behind and replayed < behind:
            self.busy.append((seconds, replayed))
            while len(self.busy) > 1 and sum(s for s, _ in self.busy) > SPEED_WINDOW:
                self.busy.popleft()
            self.speed = sum(b for _, b in self.busy) / sum(s for s, _ in self.busy)
        elif replayed:
            self.at_least = max(self.at_least or 0.0, replayed / seconds)
            if self.speed is not None and self.at_least > self.speed:
                self.speed = self.at_least  # faster than measured a while ago


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
    lag the throttle went by, in seconds — on PostgreSQL, once it knows a replica's speed, the
    time the replica needs to replay its backlog; ``None`` when none was read) and
    ``unreadable_replicas`` (alias → why its lag could not be read)."""

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

    def __call__(self, alias: str) -> Reading:
        """A :class:`Reading` of ``alias``; raises :class:`ReplicaUnreadable`."""
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

    def __enter__(self) -> ReplicaLag:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _read(wrapper: BaseDatabaseWrapper) -> Reading:
    if wrapper.vendor == "postgresql":
        new = wrapper.connection is None
        with wrapper.cursor() as cursor:
            if new:  # a replica that accepts the connection and never answers costs no more
                cursor.execute(f"SET statement_timeout = {STATEMENT_TIMEOUT_MS}")
            cursor.execute(POSTGRES_LAG)
            lag, in_recovery, behind, replayed = cursor.fetchone()
        if not in_recovery:
            raise ReplicaUnreadable("not a replica (the server is not in recovery)")
        if behind is None or replayed is None:
            return Reading(float(lag))
        return Reading(float(lag), behind=int(behind), replayed=int(replayed))
    if wrapper.vendor == "mysql":
        return Reading(_mysql_lag(wrapper))
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
    """The throttle of one purge; the engine calls :meth:`before_batch`, :meth:`batch_size` and
    :meth:`after_batch`.

    ``clock`` is the purge's clock and ``deadline`` the clock's value at which its ``max_seconds``
    run out (``None``: no bound). ``read_lag(alias)`` returns a replica's :class:`Reading` (or its
    lag in seconds) or raises :class:`ReplicaUnreadable`. ``notify(message)`` is told ``"paused:
    replica lag 7 s"`` while the purge waits, and ``None`` when it goes on.
    """

    clock: Callable[[], float]
    pause: float = 0.0
    max_lag: float | None = None
    replicas: Sequence[str] = ()
    deadline: float | None = None
    read_lag: Callable[[str], Reading | float] = field(default_factory=ReplicaLag)
    notify: Notify | None = None
    paused_seconds: float = 0.0
    replica_wait_seconds: float = 0.0
    max_replica_lag: float | None = None
    unreadable: dict[str, str] = field(default_factory=dict)
    _retry_at: dict[str, float] = field(default_factory=dict)
    _caught_up_at: dict[str, float] = field(default_factory=dict)
    _last_lag: dict[str, float] = field(default_factory=dict)
    _failures: dict[str, int] = field(default_factory=dict)
    _replay: dict[str, _Replay] = field(default_factory=dict)
    _batch_units: int | None = None  # the root rows of the batch run since the last readings

    @property
    def watches_replicas(self) -> bool:
        return self.max_lag is not None and bool(self.replicas)

    def before_batch(self) -> bool:
        """Wait while a replica lags more than ``max_lag`` (or will: see the module); ``False``
        when the purge's time ran out while it waited (the purge stops, partial)."""
        if not self.watches_replicas:
            return True
        waited_since: float | None = None
        notified = False
        try:
            while True:
                wait, message = self._wait()
                if wait <= 0:
                    return True
                now = self.clock()
                if waited_since is None:
                    waited_since = now
                if self.deadline is not None and now >= self.deadline:
                    return False
                if message is not None and self.notify is not None:
                    self.notify(message)
                    notified = True
                if self.deadline is not None:
                    wait = min(wait, max(self.deadline - now, 0.0))
                sleep(wait)
        finally:
            if waited_since is not None:
                self.replica_wait_seconds += self.clock() - waited_since
            if notified and self.notify is not None:
                self.notify(None)

    def batch_size(self, size: int) -> int:
        """The root rows the next batch may have (of ``size`` wanted): on a replica whose replay
        speed and WAL per row are known, as many as it replays in :data:`BATCH_SHARE` of the
        limit (at least one)."""
        if not self.watches_replicas:
            return size
        assert self.max_lag is not None
        for alias in self.replicas:
            replay = self._replay.get(alias)
            if replay is None or not replay.speed or not replay.bytes_per_unit:
                continue
            units = BATCH_SHARE * self.max_lag * replay.speed / replay.bytes_per_unit
            size = max(1, min(size, int(units)))
        return size

    def after_batch(self, batch_seconds: float, units: int | None = None) -> None:
        """A batch of ``units`` root rows took ``batch_seconds``: sleep ``pause * batch_seconds``
        (no longer than the purge's time left)."""
        self._batch_units = units
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

    def _wait(self) -> tuple[float, str | None]:
        """How long to wait before the next batch (0: go on), and what to say meanwhile: the
        replicas are read, and the one that needs the longest wait decides."""
        assert self.max_lag is not None
        wait, message = 0.0, None
        for alias in self.replicas:
            reading = self._reading(alias)
            if reading is None:
                continue
            replay = self._replay.get(alias)
            lag = reading.lag
            pause, over = POLL_SECONDS, lag > self.max_lag
            room = BACKLOG_SHARE * self.max_lag
            if reading.behind and replay is not None:
                if replay.speed is None and (
                    not replay.at_least or reading.behind / replay.at_least > room
                ):
                    # Behind, at a speed not known well enough: read it again shortly, and
                    # learn it.
                    if not over:
                        self._highest(lag)
                        wait = max(wait, PROBE_SECONDS)
                        continue
                elif replay.speed is None or replay.speed > 0:
                    # The lag the replica will reach: the time it needs to replay what it has,
                    # with the next batch's share of the limit to come. (The age of the last
                    # transaction it replayed is no lag when what it has still to replay holds
                    # none: the WAL of the autovacuum that follows a large purge, say.)
                    lag = reading.behind / (replay.speed or replay.at_least or 1.0)
                    over = lag > room
                    pause = min(POLL_SECONDS, max(PROBE_SECONDS, lag - room))
                else:  # its replay stalled: no end to its backlog; its lag grows
                    over = True
            self._highest(lag)
            if over and pause >= wait:
                wait, message = pause, f"paused: replica lag {lag:.0f} s ({alias})"
        self._batch_units = None  # the batch's WAL is learnt from the first readings after it
        return wait, message

    def _highest(self, lag: float) -> None:
        if self.max_replica_lag is None or lag > self.max_replica_lag:
            self.max_replica_lag = lag

    def _reading(self, alias: str) -> Reading | None:
        """A reading of ``alias`` (its lag bounded, see :meth:`_bounded`) and what it teaches of
        its replay; ``None`` while it is left alone."""
        retry_at = self._retry_at.get(alias)
        if retry_at is not None and self.clock() < retry_at:
            return None
        try:
            value = self.read_lag(alias)
        except ReplicaUnreadable as error:
            last = self._unreadable(alias, error)
            if last is None:
                return None
            reading = Reading(last)
        else:
            reading = value if isinstance(value, Reading) else Reading(float(value))
            reading = replace(reading, lag=self._bounded(alias, reading.lag))
            self._retry_at.pop(alias, None)
            self._failures.pop(alias, None)
            self._last_lag[alias] = reading.lag
            self._learn(alias, reading)
        return reading

    def _learn(self, alias: str, reading: Reading) -> None:
        """What a reading teaches: the replica's replay speed (:meth:`_Replay.learn_speed`) and
        the WAL a batch's root row writes, from its receive position across the last batch."""
        now = self.clock()
        replay = self._replay.setdefault(alias, _Replay())
        previous, read_at = replay.reading, replay.read_at
        replay.reading, replay.read_at = reading, now
        if reading.behind is None or reading.replayed is None:
            return
        received = reading.received
        if self._batch_units and replay.received_before_batch is not None and received is not None:
            written = received - replay.received_before_batch
            if written > 0:
                replay.bytes_per_unit = max(written / self._batch_units, 1.0)
        replay.received_before_batch = received
        seconds = now - read_at
        if (
            previous is not None
            and previous.behind is not None
            and previous.replayed is not None
            and 0 < seconds <= SPEED_WINDOW
        ):
            replay.learn_speed(
                seconds, previous.behind, max(reading.replayed - previous.replayed, 0)
            )

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

"""Throttling a purge: ``pause`` sleeps in proportion to each batch's time, ``max_replica_lag``
waits before a batch while a replica of ``REPLICAS`` lags, a replica whose lag cannot be read is
reported and not waited on, ``max_seconds`` bounds the waits. The engine is driven by a fake clock
and a fake sleep; the lag readers of each database are read for real (the real streaming replica
is in test_replica_processes.py)."""

from __future__ import annotations

import importlib
import itertools
import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection, connections
from django.test import override_settings
from django.utils import timezone

from django_housekeeping import housekeeping_task, run_task
from django_housekeeping.models import TaskRun
from django_housekeeping.presenters import run_summary
from django_housekeeping.purging import throttle as throttle_module
from django_housekeeping.purging.engine import purge
from django_housekeeping.purging.throttle import (
    BATCH_SHARE,
    POLL_SECONDS,
    PROBE_SECONDS,
    RETRY_SECONDS,
    TRANSIENT_FAILURES,
    Reading,
    ReplicaUnreadable,
)
from tests.helpers import summarize_result
from tests.testapp.models import Thread

pytestmark = pytest.mark.django_db

engine = importlib.import_module("django_housekeeping.purging.engine")

BATCH_SECONDS = 2.0  # what every batch takes on the fake clock


class FakeTime:
    """The engine's clock and the throttle's sleep: a sleep moves the clock on."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[], None] | None = None

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    """A fake clock and sleep; every batch of a purge takes :data:`BATCH_SECONDS` on it."""
    fake = FakeTime()
    monkeypatch.setattr(engine, "clock", fake.clock)
    monkeypatch.setattr(throttle_module, "sleep", fake.sleep)
    batch = engine._Purge._batch

    def slow_batch(self: Any, roots: list[Any]) -> None:
        batch(self, roots)
        fake.now += BATCH_SECONDS

    monkeypatch.setattr(engine._Purge, "_batch", slow_batch)
    return fake


class FakeLag:
    """Replica lags read from a script: ``{alias: [lag, lag, ...]}`` (the last one repeats); an
    exception in the script is raised."""

    def __init__(self, script: dict[str, list[float | Reading | Exception]]) -> None:
        self.script = script
        self.reads: list[str] = []

    def __call__(self, alias: str) -> float | Reading:
        self.reads.append(alias)
        lags = self.script[alias]
        value = lags.pop(0) if len(lags) > 1 else lags[0]
        if isinstance(value, Exception):
            raise value
        return value


def fake_replicas(
    monkeypatch: pytest.MonkeyPatch, script: dict[str, list[float | Reading | Exception]]
) -> FakeLag:
    fake = FakeLag(script)
    monkeypatch.setattr(throttle_module, "ReplicaLag", lambda: fake)
    return fake


def old_threads() -> Any:
    return Thread.objects.filter(created_at__lt=timezone.now() - timedelta(days=30))


def throttle_of(result: Any) -> dict[str, Any]:
    return dict(result["throttle"])


# --- pause ----------------------------------------------------------------------------------------


@pytest.mark.usefixtures("threads")
@pytest.mark.parametrize("pause", [0.5, 1, 3])
def test_pause_slows_a_purge_by_its_ratio(fake_time: FakeTime, pause: float) -> None:
    result = purge(old_threads(), batch_size=2, pause=pause)

    # Four full batches of two threads; a pause after each (the fifth fetch finds nothing).
    assert result["batches"] == 4
    assert result["total"] == 16
    assert fake_time.sleeps == [pause * BATCH_SECONDS] * 4
    working = result["batches"] * BATCH_SECONDS
    assert result["seconds"] / working == pytest.approx(1 + pause)
    assert throttle_of(result) == {
        "paused_seconds": pause * working,
        "replica_wait_seconds": 0,
        "max_replica_lag": None,
        "unreadable_replicas": {},
    }


@pytest.mark.usefixtures("threads")
def test_the_pause_setting_and_no_pause(fake_time: FakeTime) -> None:
    with override_settings(HOUSEKEEPING={"PURGE_PAUSE": 0.25}):
        result = purge(old_threads(), batch_size=4)
    assert fake_time.sleeps == [0.25 * BATCH_SECONDS] * 2
    assert result["throttle"]["paused_seconds"] == 0.25 * BATCH_SECONDS * 2

    fake_time.sleeps.clear()
    Thread.objects.all().delete()
    with override_settings(HOUSEKEEPING={"PURGE_PAUSE": 0.25}):
        result = purge(Thread.objects.all(), pause=0)
    assert fake_time.sleeps == []


@pytest.mark.usefixtures("threads")
def test_max_seconds_cuts_a_pause_short(fake_time: FakeTime) -> None:
    result = purge(old_threads(), batch_size=2, pause=10, max_seconds=5)

    assert result["partial"] is True
    assert result["batches"] == 1
    assert fake_time.sleeps == [5 - BATCH_SECONDS]
    assert Thread.objects.count() == 8


@pytest.mark.usefixtures("threads")
def test_a_dry_run_is_not_throttled(fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch) -> None:
    lag = fake_replicas(monkeypatch, {"replica": [60.0]})
    with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"]}):
        result = purge(old_threads(), batch_size=2, pause=1, dry_run=True)

    assert result["total"] == 16
    assert fake_time.sleeps == []
    assert lag.reads == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"pause": -1}, "purge option 'pause' must be a number of 0 or more or None, got -1"),
        (
            {"pause": float("inf")},
            "purge option 'pause' must be a number of 0 or more or None, got inf",
        ),
        (
            {"max_replica_lag": timedelta(seconds=-1)},
            "purge option 'max_replica_lag' must be a positive timedelta or number of seconds or "
            "None, got datetime.timedelta(days=-1, seconds=86399)",
        ),
        (
            {"max_replica_lag": "2 s"},
            "purge option 'max_replica_lag' must be a positive timedelta or number of seconds or "
            "None, got '2 s'",
        ),
    ],
)
def test_bad_throttle_values_are_one_line_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=r"^purge option ") as raised:
        purge(Thread.objects.all(), **kwargs)
    assert str(raised.value) == message


# --- replica lag ----------------------------------------------------------------------------------


@pytest.mark.usefixtures("threads")
def test_waits_while_a_replica_lags_then_goes_on(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before the first batch, "eu" lags 7 s, then 4 s, then it has caught up; "us" never lags.
    lag = fake_replicas(monkeypatch, {"eu": [7.0, 4.0, 0.5], "us": [0.2]})
    notes: list[str | None] = []
    with override_settings(HOUSEKEEPING={"REPLICAS": ["eu", "us"]}):
        result = purge(
            old_threads(),
            batch_size=4,
            max_replica_lag=timedelta(seconds=2),
            notify=notes.append,
        )

    assert result["total"] == 16
    assert result["partial"] is False
    assert Thread.objects.count() == 2
    assert fake_time.sleeps == [POLL_SECONDS, POLL_SECONDS]
    assert notes == ["paused: replica lag 7 s (eu)", "paused: replica lag 4 s (eu)", None]
    assert throttle_of(result) == {
        "paused_seconds": 0,
        "replica_wait_seconds": 2 * POLL_SECONDS,
        "max_replica_lag": 7.0,
        "unreadable_replicas": {},
    }
    # Read before each batch: three waits and the first batch, the second, the last (empty) fetch.
    assert lag.reads.count("eu") == 5


@pytest.mark.usefixtures("threads")
def test_the_max_replica_lag_setting_and_a_purge_that_sets_its_own(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_replicas(monkeypatch, {"replica": [5.0, 1.0]})
    housekeeping = {"REPLICAS": ["replica"], "MAX_REPLICA_LAG": 3}
    with override_settings(HOUSEKEEPING=housekeeping):
        result = purge(old_threads())
    assert result["throttle"]["replica_wait_seconds"] == POLL_SECONDS

    fake_replicas(monkeypatch, {"replica": [5.0, 1.0]})
    with override_settings(HOUSEKEEPING=housekeeping):
        result = purge(Thread.objects.all(), max_replica_lag=6)
    assert result["throttle"]["replica_wait_seconds"] == 0
    assert result["throttle"]["max_replica_lag"] == 5.0


@pytest.mark.usefixtures("threads")
def test_a_replica_seen_caught_up_lags_no_more_than_the_time_since(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After a quiet hour, the last transaction a replica replayed is an hour old: what it has
    still to replay was written since the purge last saw it caught up."""
    fake_replicas(monkeypatch, {"replica": [0.0, 3600.0, 0.0]})
    notes: list[str | None] = []
    with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"]}):
        result = purge(old_threads(), batch_size=4, max_replica_lag=1, notify=notes.append)

    assert notes == ["paused: replica lag 2 s (replica)", None]  # the first batch's 2 s
    assert result["throttle"]["max_replica_lag"] == BATCH_SECONDS
    assert result["throttle"]["replica_wait_seconds"] == POLL_SECONDS
    assert result["total"] == 16


@pytest.mark.usefixtures("threads")
def test_without_replicas_nothing_is_read(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    lag = fake_replicas(monkeypatch, {})
    result = purge(old_threads(), max_replica_lag=1)
    assert lag.reads == []
    assert result["throttle"]["max_replica_lag"] is None


@pytest.mark.usefixtures("threads")
def test_max_seconds_bounds_the_wait(fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_replicas(monkeypatch, {"replica": [1.0, 30.0]})
    with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"]}):
        result = purge(old_threads(), batch_size=2, max_replica_lag=2, max_seconds=10.5)

    # The first batch at once (2 s), then the replica lags until the time runs out.
    assert result["partial"] is True
    assert result["batches"] == 1
    assert Thread.objects.count() == 8
    assert result["seconds"] == pytest.approx(10.5)
    assert result["throttle"]["replica_wait_seconds"] == pytest.approx(10.5 - BATCH_SECONDS)
    assert result["throttle"]["max_replica_lag"] == 30.0


# --- a replica slower than its primary (PostgreSQL's backlog in bytes) ---------------------------


class SlowReplica:
    """A replica that replays ``speed`` bytes a second of the WAL a purge writes (``per_row``
    bytes per row deleted, received when its batch commits), read as PostgreSQL tells it: the lag
    (how long ago the oldest change not yet replayed was committed), the bytes received and not
    replayed, the replay position. ``staleness()``: for each commit, how long after it the
    replica had replayed it — the lag the replica showed at its worst."""

    def __init__(self, fake: FakeTime, *, speed: float, per_row: int) -> None:
        self.fake, self.speed, self.per_row = fake, speed, per_row
        self.commits: list[tuple[float, int]] = []  # (committed at, WAL position after it)
        self.reads = 0

    def commit(self, rows: int) -> None:
        end = self.commits[-1][1] if self.commits else 0
        self.commits.append((self.fake.now, end + rows * self.per_row))

    def replayed_by(self) -> list[tuple[float, float]]:
        """(committed at, replayed at) of each commit, the replica replaying them in order."""
        done, position, times = 0.0, 0, []
        for committed, end in self.commits:
            done = max(done, committed) + (end - position) / self.speed
            position = end
            times.append((committed, done))
        return times

    def __call__(self, alias: str) -> Reading:
        self.reads += 1
        now = self.fake.now
        received = max((end for committed, end in self.commits if committed <= now), default=0)
        replayed, lag = received, 0.0
        position = 0
        for (committed, end), (_, done) in zip(self.commits, self.replayed_by(), strict=True):
            if committed > now:
                break
            if done > now:  # being replayed: the oldest change not replayed is this commit's
                replayed = end - int((done - now) * self.speed)
                lag = now - committed
                break
            position = end
        replayed = max(replayed, position)
        return Reading(lag, behind=received - replayed, replayed=replayed)

    def batches(self) -> list[int]:
        """The WAL each commit wrote, in bytes."""
        ends = [end for _, end in self.commits]
        return [end - start for start, end in itertools.pairwise([0, *ends])]

    def staleness(self) -> float:
        return max(replayed - committed for committed, replayed in self.replayed_by())


@pytest.fixture
def many_threads() -> None:
    old = timezone.now() - timedelta(days=40)
    Thread.objects.bulk_create(Thread(title=str(i), created_at=old) for i in range(5000))


def slow_replica(
    monkeypatch: pytest.MonkeyPatch, fake: FakeTime, *, speed: float, per_row: int
) -> SlowReplica:
    """A :class:`SlowReplica` as the replica ``replica``, told of every batch's commit."""
    replica = SlowReplica(fake, speed=speed, per_row=per_row)
    monkeypatch.setattr(throttle_module, "ReplicaLag", lambda: replica)
    batch = engine._Purge._batch

    def committing(self: Any, roots: list[Any]) -> None:
        batch(self, roots)
        replica.commit(len(roots))

    monkeypatch.setattr(engine._Purge, "_batch", committing)
    return replica


# Rows of 1,000 bytes of WAL, replayed at 250 rows a second; every batch takes the primary 2 s,
# whatever its size: a first batch of 1,000 rows takes the replica 4 s, the next (4,000) 16 s.
SLOW = {"speed": 250_000.0, "per_row": 1000}


@pytest.mark.usefixtures("many_threads")
def test_a_replica_slower_than_its_primary_stays_under_the_limit(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lag in seconds cannot see the backlog: without the replica's backlog in bytes, it
    stays under 10 s while the primary writes what takes the replica far longer to replay."""
    replica = slow_replica(monkeypatch, fake_time, **SLOW)
    with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"]}):
        result = purge(old_threads(), max_replica_lag=10, notify=lambda message: None)

    assert result["total"] == 5000
    assert result["partial"] is False
    assert replica.staleness() <= 10
    # After its speed is known, no batch takes it more than its share of the limit to replay.
    assert max(replica.batches()[1:]) <= BATCH_SHARE * 10 * SLOW["speed"]
    assert result["throttle"]["replica_wait_seconds"] > 0
    assert result["throttle"]["max_replica_lag"] <= 10


@pytest.mark.usefixtures("many_threads")
def test_without_its_backlog_the_same_replica_falls_behind(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same purge and replica, read by its lag alone (what MySQL and MariaDB tell): the
    purge never waits, and the replica ends up far behind."""
    replica = slow_replica(monkeypatch, fake_time, **SLOW)

    def lag_only(alias: str) -> float:
        return replica(alias).lag

    monkeypatch.setattr(throttle_module, "ReplicaLag", lambda: lag_only)
    with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"]}):
        result = purge(old_threads(), max_replica_lag=10)

    assert result["total"] == 5000
    assert result["throttle"]["replica_wait_seconds"] == 0
    assert replica.staleness() > 10


@pytest.mark.usefixtures("many_threads")
def test_a_replica_faster_than_its_primary_costs_a_few_probes(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A replica that replays a batch in a fraction of its time (here: all of it at the commit,
    in no time): after each of the first batches it is read again a quarter of a second later,
    has caught up — it is at least that fast — and the purge goes on, with no "paused" and the
    batches it would cut without a replica."""
    replica = slow_replica(monkeypatch, fake_time, speed=1000 * 250_000.0, per_row=1000)
    notes: list[str | None] = []
    with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"]}):
        result = purge(old_threads(), max_replica_lag=2, notify=notes.append)

    assert fake_time.sleeps == [PROBE_SECONDS, PROBE_SECONDS]
    assert result["throttle"]["replica_wait_seconds"] == 2 * PROBE_SECONDS
    assert notes == []
    assert replica.batches() == [1000 * 1000, 4000 * 1000]  # as without a replica
    assert replica.staleness() < 0.1


@pytest.mark.usefixtures("many_threads")
def test_a_purge_with_its_own_batch_size_keeps_it(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    replica = slow_replica(monkeypatch, fake_time, **SLOW)
    with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"]}):
        result = purge(old_threads(), batch_size=2000, max_replica_lag=10)

    assert replica.batches() == [2000 * 1000, 2000 * 1000, 1000 * 1000]
    assert result["total"] == 5000
    # It waits before each batch until the replica can replay what it has in its share of the
    # limit.
    assert result["throttle"]["replica_wait_seconds"] > 0


@pytest.mark.usefixtures("threads")
def test_a_replica_behind_at_an_unknown_speed_is_read_again_shortly(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Before its first batch, the replica has a backlog and the purge knows nothing of its
    speed: it reads it again after PROBE_SECONDS, finds it caught up, and goes on."""
    readings = [
        Reading(0.5, behind=4000, replayed=10_000),
        Reading(0.0, behind=0, replayed=14_000),
    ]
    lag = fake_replicas(monkeypatch, {"replica": [*readings]})
    notes: list[str | None] = []
    with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"]}):
        result = purge(old_threads(), max_replica_lag=2, notify=notes.append)

    assert fake_time.sleeps == [PROBE_SECONDS]
    assert notes == []  # too short to be worth a "paused"
    assert result["throttle"]["replica_wait_seconds"] == PROBE_SECONDS
    assert result["total"] == 16
    assert lag.reads.count("replica") >= 2


@pytest.mark.usefixtures("threads")
def test_an_unreadable_replica_is_reported_and_not_waited_on(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    lag = fake_replicas(
        monkeypatch,
        {"down": [ReplicaUnreadable("OperationalError: connection refused")], "up": [0.0]},
    )
    with (
        override_settings(HOUSEKEEPING={"REPLICAS": ["down", "up"]}),
        caplog.at_level(logging.WARNING, logger="django_housekeeping.purging.throttle"),
    ):
        result = purge(old_threads(), batch_size=2, max_replica_lag=2)

    assert result["total"] == 16
    assert result["partial"] is False
    assert throttle_of(result) == {
        "paused_seconds": 0,
        "replica_wait_seconds": 0,
        "max_replica_lag": 0.0,
        "unreadable_replicas": {"down": "OperationalError: connection refused"},
    }
    assert [record.getMessage() for record in caplog.records] == [
        "replica 'down': its lag cannot be read (OperationalError: connection refused); the "
        "purge does not wait on it"
    ]
    # Tried once, then left alone for RETRY_SECONDS (the purge took 8 s on the fake clock).
    assert lag.reads.count("down") == 1
    assert lag.reads.count("up") == 5
    assert RETRY_SECONDS > 4 * BATCH_SECONDS


@pytest.mark.usefixtures("threads")
def test_an_unreadable_replica_is_tried_again_after_a_while(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    lag = fake_replicas(monkeypatch, {"flaky": [ReplicaUnreadable("timeout"), 9.0, 0.0]})
    with override_settings(HOUSEKEEPING={"REPLICAS": ["flaky"]}):
        # A long pause after each batch lets RETRY_SECONDS go by.
        result = purge(old_threads(), batch_size=4, pause=RETRY_SECONDS, max_replica_lag=2)

    assert result["total"] == 16
    assert lag.reads == ["flaky", "flaky", "flaky", "flaky"]
    assert result["throttle"]["unreadable_replicas"] == {"flaky": "timeout"}
    assert result["throttle"]["max_replica_lag"] == 9.0
    assert result["throttle"]["replica_wait_seconds"] == POLL_SECONDS


@pytest.mark.usefixtures("threads")
def test_a_reading_that_fails_on_a_live_replica_keeps_its_last_lag(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    conflict = ReplicaUnreadable("OperationalError: conflict with recovery", transient=True)
    lag = fake_replicas(monkeypatch, {"replica": [5.0, conflict, 0.0]})
    with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"]}):
        result = purge(old_threads(), batch_size=4, max_replica_lag=2)

    assert result["throttle"]["replica_wait_seconds"] == 2 * POLL_SECONDS  # 5 s, still 5 s, 0
    assert result["throttle"]["unreadable_replicas"] == {
        "replica": "OperationalError: conflict with recovery"
    }
    assert lag.reads.count("replica") == 5
    assert result["total"] == 16


@pytest.mark.usefixtures("threads")
def test_a_replica_whose_readings_keep_failing_is_left_alone(
    fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    conflict = ReplicaUnreadable("OperationalError: permission denied", transient=True)
    lag = fake_replicas(monkeypatch, {"replica": [conflict] * TRANSIENT_FAILURES + [30.0]})
    with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"]}):
        result = purge(Thread.objects.all(), batch_size=1, max_replica_lag=2)

    assert lag.reads == ["replica"] * TRANSIENT_FAILURES
    assert result["throttle"]["replica_wait_seconds"] == 0
    assert result["total"] == 20


def test_a_failed_query_on_a_live_connection_is_transient(
    monkeypatch: pytest.MonkeyPatch, extra_database: Callable[..., None]
) -> None:
    extra_database("same", dict(connection.settings_dict))

    attempts: list[int] = []

    def cancelled(wrapper: Any) -> float:
        wrapper.ensure_connection()
        attempts.append(1)
        raise OperationalError("canceling statement due to conflict with recovery")

    monkeypatch.setattr(throttle_module, "_read", cancelled)
    reader = throttle_module.ReplicaLag()
    try:
        with pytest.raises(ReplicaUnreadable) as raised:
            reader("same")
    finally:
        reader.close()
    assert raised.value.transient is True
    assert len(attempts) == throttle_module.ATTEMPTS  # tried again at once
    assert str(raised.value) == (
        "OperationalError: canceling statement due to conflict with recovery"
    )


# --- the run: progress note and summary -----------------------------------------------------------


@pytest.mark.usefixtures("threads")
def test_a_run_says_it_is_paused_and_its_summary_shows_the_waits(
    temporary_tasks: None, fake_time: FakeTime, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_replicas(monkeypatch, {"replica": [7.4, 0.0]})
    seen: list[tuple[Any, str]] = []

    def look() -> None:
        run = TaskRun.objects.get(task_name="throttled")
        seen.append((run.result, run_summary(run)))

    fake_time.on_sleep = look

    @housekeeping_task(name="throttled", purge={"batch_size": 4, "pause": 0.5})
    def throttled(ctx: Any) -> Any:
        return ctx.purge(old_threads())

    with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"], "MAX_REPLICA_LAG": 2}):
        run = run_task("throttled")

    assert run.status == TaskRun.Status.SUCCEEDED
    assert seen[0] == (
        {"progress_note": "paused: replica lag 7 s (replica)"},
        "running… paused: replica lag 7 s (replica)",
    )
    assert seen[1] == (None, "running…")  # the pause after a batch says nothing
    run.refresh_from_db()
    assert run.result["throttle"]["replica_wait_seconds"] == POLL_SECONDS
    assert run_summary(run) == (
        "deleted 16 (testapp.Post 8, testapp.Thread 8); throttled: paused 2.0 s, waited 1.0 s "
        "on replicas (lag up to 7 s)"
    )


def test_the_summary_of_throttle_results() -> None:
    base = {"deleted": {"testapp.Thread": 3}, "total": 3, "dry_run": False}
    quiet = {
        "paused_seconds": 0,
        "replica_wait_seconds": 0,
        "max_replica_lag": 0.4,
        "unreadable_replicas": {},
    }
    assert summarize_result({**base, "throttle": quiet}) == "deleted 3 (testapp.Thread 3)"
    assert summarize_result({**base}) == "deleted 3 (testapp.Thread 3)"
    unreadable = {**quiet, "unreadable_replicas": {"eu": "timeout", "us": "refused"}}
    assert summarize_result({**base, "throttle": unreadable}) == (
        "deleted 3 (testapp.Thread 3); throttled: replicas 'eu', 'us' unreadable"
    )
    assert summarize_result({**base, "throttle": {"paused_seconds": "x"}}) == (
        "deleted 3 (testapp.Thread 3)"
    )


# --- reading the lag of each database for real ----------------------------------------------------


@pytest.fixture
def extra_database() -> Iterator[Callable[[str, dict[str, Any]], None]]:
    """Add a database alias for the test (closed and removed afterwards)."""
    added: list[str] = []

    def add(alias: str, settings_dict: dict[str, Any]) -> None:
        connections.settings[alias] = settings_dict  # a configured one: a copy of a real alias
        added.append(alias)

    yield add
    for alias in added:
        if hasattr(connections._connections, alias):  # type: ignore[attr-defined]
            connections[alias].close()
            del connections[alias]
        del connections.settings[alias]


def unreadable(alias: str) -> str:
    """Why the lag of ``alias`` cannot be read (its reader closed afterwards)."""
    with throttle_module.ReplicaLag() as read_lag, pytest.raises(ReplicaUnreadable) as raised:
        read_lag(alias)
    return str(raised.value)


def test_the_primary_itself_is_no_replica(extra_database: Callable[..., None]) -> None:
    """The lag reader of the test database's own vendor: the primary is reported, not read."""
    extra_database("same", dict(connection.settings_dict))
    assert (
        unreadable("same")
        == {
            "sqlite": "no replica lag to read on sqlite",
            "postgresql": "not a replica (the server is not in recovery)",
            "mysql": "not a replica (no replication is configured)",
        }[connection.vendor]
    )


@pytest.mark.databases("postgres", "mysql")
def test_a_replica_nobody_answers_is_unreadable_at_once(
    extra_database: Callable[..., None],
) -> None:
    settings_dict = dict(connection.settings_dict)
    settings_dict.update(HOST="127.0.0.1", PORT="1")
    extra_database("nowhere", settings_dict)
    assert unreadable("nowhere").startswith("OperationalError: ")


def test_an_unknown_alias_is_unreadable() -> None:
    assert unreadable("no-such-alias") == (
        "ConnectionDoesNotExist: The connection 'no-such-alias' doesn't exist."
    )

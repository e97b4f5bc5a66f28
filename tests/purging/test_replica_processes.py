"""The throttle against a real PostgreSQL streaming replica, started by the test itself
(tests/pgcluster.py: ``initdb`` + ``pg_basebackup -R`` into a temporary directory, on free ports).

The purge runs on that cluster's primary (migrated for the test), with ``REPLICAS = ["replica"]``.
Replay is paused on the replica, so its lag grows; the purge waits before its first batch; once
the test sees it waiting, a thread resumes replay, the lag falls to 0 and the purge completes. A
replica alias on a port nobody listens on is reported, not waited on. An idle primary is no lag.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import OperationalError, connections
from django.test import override_settings
from django.utils import timezone

from django_housekeeping.purging.engine import purge
from django_housekeeping.purging.throttle import Reading, ReplicaLag, ReplicaUnreadable
from tests.helpers import free_port, wait_for
from tests.pgcluster import Cluster, start_cluster
from tests.testapp.models import SlotRecord

# Real transactions on the cluster's primary, so that they replicate. Only the primary is a
# database of the test case: the replicas are read on connections of their own, which Django's
# test case does not guard (and flushing a hot standby would fail).
pytestmark = [
    pytest.mark.processes,
    pytest.mark.databases("postgres"),
    pytest.mark.django_db(transaction=True, databases=["default", "primary"]),
]

ROWS = 3000
ALIASES = ("primary", "replica", "nowhere")


@pytest.fixture(scope="module")
def cluster(django_db_setup: None, django_db_blocker: Any) -> Iterator[Cluster]:
    """The primary and its replica as the database aliases ``primary`` and ``replica`` (the
    primary migrated), and ``nowhere``: a PostgreSQL alias on a port nobody listens on."""
    started = start_cluster()
    try:
        connections.settings["primary"] = started.database(started.primary)
        connections.settings["replica"] = started.database(started.replica)
        nowhere = started.database(started.primary)
        nowhere["PORT"] = str(free_port())
        connections.settings["nowhere"] = nowhere
        with django_db_blocker.unblock():
            # The apps the purge reads (the test app's models, the library's legal holds) and
            # what they depend on. (django_apscheduler's data migration reads the default
            # database whatever database is migrated, and fails on a migrated default database:
            # it is not needed here.)
            for app_label in ("testapp", "django_housekeeping"):
                call_command("migrate", app_label, database="primary", verbosity=0)
            yield started
    finally:
        for alias in ALIASES:
            if alias in connections.settings:
                connections[alias].close()
                del connections[alias]
                del connections.settings[alias]
        started.stop()


def on_replica(cluster: Cluster, sql: str) -> Any:
    """One value read on the replica, on a connection of its own, closed at once (any thread).

    A hot standby cancels a query that conflicts with what it replays: it is run again.
    """
    source = connections["replica"]
    wrapper = type(source)(dict(source.settings_dict), alias="replica (test)")
    try:
        for attempt in range(1, 21):
            try:
                with wrapper.cursor() as cursor:
                    cursor.execute(sql)
                    row = cursor.fetchone()
                break
            except OperationalError as error:
                if "conflict with recovery" not in str(error) or attempt == 20:
                    raise
    finally:
        wrapper.close()
    return row[0] if row else None


def caught_up(cluster: Cluster) -> bool:
    return bool(on_replica(cluster, "SELECT pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn()"))


def old_records(count: int) -> None:
    old = timezone.now() - timedelta(days=40)
    SlotRecord.objects.using("primary").bulk_create(
        SlotRecord(task_name=f"record {i}", now=old) for i in range(count)
    )


def old_on_primary() -> Any:
    return SlotRecord.objects.using("primary").filter(now__lt=timezone.now() - timedelta(days=30))


def test_the_purge_waits_while_the_replica_lags_and_completes(cluster: Cluster) -> None:
    old_records(ROWS)
    wait_for(lambda: caught_up(cluster), 30, "the replica to replay the rows")
    on_replica(cluster, "SELECT pg_wal_replay_pause()")
    resumed = threading.Event()
    waiting = threading.Event()
    try:
        # The replica receives this row but does not replay it: its lag is the age of the last
        # transaction it replayed, which grows.
        old_records(1)
        with ReplicaLag() as reader:
            wait_for(lambda: reader("replica").lag > 1.5, 30, "the replica's lag to pass 1.5 s")
            reading = reader("replica")
        assert reading.behind is not None
        assert reading.behind > 0  # the row's WAL, received and not replayed

        def resume_once_waiting() -> None:
            try:
                waiting.wait(timeout=60)
            finally:
                on_replica(cluster, "SELECT pg_wal_replay_resume()")
                resumed.set()

        notes: list[str | None] = []

        def notify(message: str | None) -> None:
            notes.append(message)
            if message is not None:
                waiting.set()

        resumer = threading.Thread(target=resume_once_waiting)
        resumer.start()
        with override_settings(HOUSEKEEPING={"REPLICAS": ["replica"]}):
            # max_seconds: if replay were never resumed, the purge would stop (and fail below)
            # rather than hang.
            result = purge(
                old_on_primary(),
                batch_size=500,
                max_replica_lag=timedelta(seconds=1),
                max_seconds=120,
                notify=notify,
            )
        resumer.join(timeout=60)
    finally:
        if not resumed.is_set():
            on_replica(cluster, "SELECT pg_wal_replay_resume()")

    assert result["partial"] is False
    assert result["total"] == ROWS + 1
    assert not old_on_primary().exists()
    throttle = result["throttle"]
    assert throttle["replica_wait_seconds"] > 0
    assert throttle["max_replica_lag"] is not None
    assert throttle["max_replica_lag"] > 1
    assert throttle["unreadable_replicas"] == {}
    assert notes[0] is not None
    assert notes[0].startswith("paused: replica lag ")
    assert notes[0].endswith(" s (replica)")
    assert notes[-1] is None
    wait_for(
        lambda: on_replica(cluster, "SELECT count(*) FROM testapp_slotrecord") == 0,
        30,
        "the replica to replay the purge",
    )


def test_a_replica_that_does_not_answer_is_reported_not_waited_on(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    old_records(ROWS)
    with (
        override_settings(HOUSEKEEPING={"REPLICAS": ["nowhere", "replica"]}),
        caplog.at_level(logging.WARNING, logger="django_housekeeping.purging.throttle"),
    ):
        result = purge(old_on_primary(), batch_size=500, max_replica_lag=timedelta(seconds=5))

    assert result["partial"] is False
    assert result["total"] == ROWS
    unreadable = result["throttle"]["unreadable_replicas"]
    assert list(unreadable) == ["nowhere"]
    assert unreadable["nowhere"].startswith("OperationalError: ")
    assert result["throttle"]["max_replica_lag"] is not None  # the other replica was read
    assert [record.getMessage().split(" (")[0] for record in caplog.records] == [
        "replica 'nowhere': its lag cannot be read"
    ]


def test_an_idle_primary_is_no_lag(cluster: Cluster) -> None:
    """With nothing to replay, the age of the last replayed transaction is no lag."""
    old_records(1)
    wait_for(lambda: caught_up(cluster), 30, "the replica to replay the row")
    wait_for(
        lambda: on_replica(
            cluster, "SELECT now() - pg_last_xact_replay_timestamp() > interval '2 seconds'"
        ),
        30,
        "the last replayed transaction to be 2 s old",
    )
    replayed = on_replica(cluster, "SELECT pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')")
    with ReplicaLag() as reader:
        # Nothing to replay: no lag, no backlog, and its replay position in bytes.
        assert reader("replica") == Reading(0.0, behind=0, replayed=int(replayed))
        with pytest.raises(ReplicaUnreadable, match="not a replica"):
            reader("primary")

"""Partitioned tables: partitions wholly before the cutoff are dropped on PostgreSQL when nothing
would be lost by it; everything else goes by batches, one partition at a time, and says why."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import nullcontext
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction
from django.db.models.signals import pre_delete
from django.test.utils import CaptureQueriesContext

from django_housekeeping import holds
from django_housekeeping.purging import partitions
from django_housekeeping.purging.engine import PurgeLimitExceeded, purge
from tests.helpers import housekeeping
from tests.testapp.models import Reading, Sample, SampleNote

pytestmark = pytest.mark.django_db

postgres = pytest.mark.databases("postgres")


def at(month: int, day: int = 1, hour: int = 0) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def partition_name(table: str, month: int) -> str:
    return f"{table}_2025_{month:02d}"


def tables() -> set[str]:
    """The tables (partitions included) of the test database."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relkind IN ('r', 'p')")
        return {name for (name,) in cursor.fetchall()}


@pytest.fixture
def partitioned() -> Iterator[Callable[..., list[str]]]:
    """``partitioned(model, months, default=False)`` creates monthly partitions of 2025 on
    PostgreSQL (nothing elsewhere) and drops whatever is left of them afterwards."""
    created: list[str] = []

    def make(model: Any, months: range | list[int], *, default: bool = False) -> list[str]:
        if connection.vendor != "postgresql":
            return []
        table = model._meta.db_table
        names = []
        with connection.cursor() as cursor:
            for month in months:
                name = partition_name(table, month)
                cursor.execute(
                    f'CREATE TABLE "{name}" PARTITION OF "{table}" FOR VALUES FROM '
                    f"('{at(month).isoformat()}') TO ('{at(month + 1).isoformat()}')"
                    if month < 12
                    else f'CREATE TABLE "{name}" PARTITION OF "{table}" FOR VALUES FROM '
                    f"('{at(12).isoformat()}') TO (MAXVALUE)"
                )
                names.append(name)
            if default:
                cursor.execute(f'CREATE TABLE "{table}_default" PARTITION OF "{table}" DEFAULT')
                names.append(f"{table}_default")
        created.extend(names)
        return names

    yield make
    if created:
        with connection.cursor() as cursor:
            for name in created:
                cursor.execute(f'DROP TABLE IF EXISTS "{name}"')


def readings(months: range | list[int], per_month: int = 3) -> None:
    """``per_month`` readings on days 1, 8, 15, 22 … of each month."""
    Reading.objects.bulk_create(
        Reading(at=at(month, 1 + 7 * day), value=month)
        for month in months
        for day in range(per_month)
    )


def months_left() -> list[int]:
    # In Python: MariaDB without its time zone tables extracts no month from a datetime.
    return sorted(moment.month for moment in Reading.objects.values_list("at", flat=True))


# --- every database: the same purge --------------------------------------------------------------


def test_a_cutoff_purge_of_a_partitioned_model_deletes_the_same_rows_everywhere(
    partitioned: Callable[..., list[str]],
) -> None:
    partitioned(Reading, range(1, 6))
    readings(range(1, 6))

    result = purge(Reading.objects.filter(at__lt=at(3, 15)), batch_size=2)

    assert result["deleted"] == {"testapp.Reading": 8}
    assert months_left() == [3, 4, 4, 4, 5, 5, 5]
    expected = (
        [
            {"name": "testapp_reading_2025_01", "rows": 3},
            {"name": "testapp_reading_2025_02", "rows": 3},
        ]
        if connection.vendor == "postgresql"
        else []
    )
    assert result["dropped_partitions"] == expected
    if connection.vendor != "postgresql":
        assert result["partitions"] is None


# --- PostgreSQL: dropping ------------------------------------------------------------------------


@postgres
def test_partitions_before_the_cutoff_are_dropped_and_the_boundary_one_batched(
    partitioned: Callable[..., list[str]],
) -> None:
    names = partitioned(Reading, range(1, 5))
    readings(range(1, 5))

    result = purge(Reading.objects.filter(at__lt=at(3, 15)))

    assert [p["name"] for p in result["dropped_partitions"]] == names[:2]
    assert [p["rows"] for p in result["dropped_partitions"]] == [3, 3]
    assert result["deleted"] == {"testapp.Reading": 8}
    assert result["total"] == 8
    assert months_left() == [3, 4, 4, 4]  # the 15th of March is after the cutoff
    assert not tables() & set(names[:2])
    assert set(names[2:]) <= tables()
    assert result["partitions"] == (
        "batched testapp_reading_2025_03: rows on both sides of the cutoff"
    )


@postgres
def test_a_dry_run_reports_the_partitions_it_would_drop_with_the_real_runs_counts(
    partitioned: Callable[..., list[str]],
) -> None:
    names = partitioned(Reading, range(1, 5))
    readings(range(1, 5), per_month=4)
    queryset = Reading.objects.filter(at__lt=at(3, 15))

    dry = purge(queryset, dry_run=True)

    assert dry["dry_run"] is True
    assert Reading.objects.count() == 16
    assert set(names) <= tables()
    real = purge(queryset)
    assert dry["deleted"] == real["deleted"] == {"testapp.Reading": 10}
    assert (
        dry["dropped_partitions"]
        == real["dropped_partitions"]
        == [
            {"name": names[0], "rows": 4},
            {"name": names[1], "rows": 4},
        ]
    )
    assert dry["partitions"] == real["partitions"]


@postgres
def test_less_or_equal_drops_the_partitions_ending_at_the_cutoff_and_batches_the_next(
    partitioned: Callable[..., list[str]],
) -> None:
    names = partitioned(Reading, range(1, 5))
    readings(range(1, 5))

    with CaptureQueriesContext(connection) as queries:
        result = purge(Reading.objects.filter(at__lte=at(3)))

    # January and February hold only rows before March 1st; March's partition holds the row of
    # March 1st 00:00 itself, which <= selects: it is batched, and the statements that delete
    # there carry its bounds, so PostgreSQL reads that partition only.
    assert [p["name"] for p in result["dropped_partitions"]] == names[:2]
    assert result["deleted"] == {"testapp.Reading": 7}
    assert months_left() == [3, 3, 4, 4, 4]
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 1
    assert '"testapp_reading"."at" >= ' in deletes[0]
    assert '"testapp_reading"."at" < ' in deletes[0]

    # With <, March's partition has nothing to delete: no batch goes there.
    partitioned(Reading, [1])
    readings([1])
    result = purge(Reading.objects.filter(at__lt=at(3)))
    assert result["partitions"] is None
    assert result["batches"] == 0


@postgres
@pytest.mark.django_db(transaction=True)
def test_a_default_partition_is_never_dropped_its_old_rows_go_by_batches(
    partitioned: Callable[..., list[str]],
) -> None:
    names = partitioned(Reading, [2, 3], default=True)
    readings([1, 2, 3, 4])  # January and April land in the DEFAULT partition

    with CaptureQueriesContext(connection) as queries:
        result = purge(Reading.objects.filter(at__lt=at(3)))

    # PostgreSQL refuses DETACH … CONCURRENTLY beside a DEFAULT partition: a plain DETACH.
    detach = [q["sql"] for q in queries.captured_queries if "DETACH" in q["sql"]]
    assert detach == [f'ALTER TABLE "testapp_reading" DETACH PARTITION "public"."{names[0]}"']

    assert result["dropped_partitions"] == [{"name": names[0], "rows": 3}]
    assert result["deleted"] == {"testapp.Reading": 6}
    assert months_left() == [3, 3, 3, 4, 4, 4]
    assert "testapp_reading_default" in tables()
    assert result["partitions"] == (
        "batched testapp_reading_default: a DEFAULT partition is never dropped"
    )


@postgres
def test_max_rows_refuses_before_any_partition_is_dropped(
    partitioned: Callable[..., list[str]],
) -> None:
    names = partitioned(Reading, range(1, 4))
    readings(range(1, 4))

    with pytest.raises(PurgeLimitExceeded):
        purge(Reading.objects.filter(at__lt=at(3)), max_rows=5)

    assert set(names) <= tables()
    assert Reading.objects.count() == 9


@postgres
def test_a_held_row_keeps_its_partition_whose_other_rows_go_by_batches(
    partitioned: Callable[..., list[str]],
) -> None:
    names = partitioned(Reading, range(1, 4))
    readings(range(1, 4))
    kept = Reading.objects.earliest("at")
    holds.place(kept, reason="Dispute #1")

    result = purge(Reading.objects.filter(at__lt=at(3)))

    assert result["dropped_partitions"] == [{"name": names[1], "rows": 3}]
    assert result["held"] == {"testapp.Reading": 1}
    assert result["deleted"] == {"testapp.Reading": 5}
    assert list(Reading.objects.filter(at__lt=at(3))) == [kept]
    assert names[0] in tables()
    assert result["partitions"] == "batched testapp_reading_2025_01: a row is under a legal hold"


@postgres
@pytest.mark.django_db(transaction=True)
def test_archived_partitions_are_detached_concurrently_dropped_and_restored(
    partitioned: Callable[..., list[str]], tmp_path: Path
) -> None:
    names = partitioned(Reading, range(1, 4))
    readings(range(1, 4))
    before = list(Reading.objects.filter(at__lt=at(3)).order_by("pk").values())
    archive = tmp_path / "readings.jsonl.gz"

    with CaptureQueriesContext(connection) as queries:
        result = purge(Reading.objects.filter(at__lt=at(3)), archive=archive)

    assert result["archive"] == str(archive)
    assert result["dropped_partitions"] == [
        {"name": names[0], "rows": 3},
        {"name": names[1], "rows": 3},
    ]
    assert any(
        q["sql"].startswith("ALTER TABLE") and q["sql"].endswith("CONCURRENTLY")
        for q in queries.captured_queries
    )
    assert Reading.objects.filter(at__lt=at(3)).count() == 0
    assert not tables() & set(names[:2])

    # A restore needs somewhere for the rows to go: the partitions are created again.
    partitioned(Reading, [1, 2])
    outcome = housekeeping("restore", str(archive))

    assert outcome.returncode == 0, outcome
    assert list(Reading.objects.filter(at__lt=at(3)).order_by("pk").values()) == before


@postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("concurrently", [True, False], ids=["concurrently", "in-a-transaction"])
def test_a_partition_is_dropped_under_the_holds_lock_after_the_holds_are_read_again(
    partitioned: Callable[..., list[str]], concurrently: bool
) -> None:
    """A hold placed during the detach either keeps the partition or finds its row gone: the
    holds are read again, and the partition dropped, under the holds' lock (issue 22)."""
    names = partitioned(Reading, range(1, 4))
    readings(range(1, 4))
    holds.lock(connection.alias, exclusive=False)  # the row a flush may have deleted

    outer = nullcontext() if concurrently else transaction.atomic()
    with CaptureQueriesContext(connection) as queries, outer:
        result = purge(Reading.objects.filter(at__lt=at(3)))

    assert [p["name"] for p in result["dropped_partitions"]] == names[:2]
    statements = [q["sql"] for q in queries.captured_queries]
    for name in names[:2]:
        relation = f'"public"."{name}"'
        detach = next(
            i for i, sql in enumerate(statements) if f"DETACH PARTITION {relation}" in sql
        )
        drop = statements.index(f"DROP TABLE {relation}")
        assert statements[detach].endswith("CONCURRENTLY") == concurrently
        between = statements[detach:drop]
        lock = next(i for i, sql in enumerate(between) if "FOR SHARE" in sql)
        assert any("django_housekeeping_legalhold" in sql for sql in between[lock:])
        if not concurrently:  # and before the detach, which locks the table
            assert "FOR SHARE" in statements[detach - 1]


# --- PostgreSQL: when nothing may be dropped -----------------------------------------------------


@postgres
def test_a_referencing_foreign_key_means_batches_with_the_reason(
    partitioned: Callable[..., list[str]],
) -> None:
    names = partitioned(Sample, range(1, 4))
    samples = Sample.objects.bulk_create(Sample(at=at(month, 5)) for month in range(1, 4))
    SampleNote.objects.bulk_create(SampleNote(sample=sample) for sample in samples)

    result = purge(Sample.objects.filter(at__lt=at(3)))

    assert result["dropped_partitions"] == []
    assert result["deleted"] == {"testapp.Sample": 2, "testapp.SampleNote": 2}
    assert result["partitions"] == (
        "batched: deleting testapp.Sample cascades to testapp.SampleNote via sample"
    )
    assert set(names) <= tables()
    assert list(SampleNote.objects.values_list("sample_id", flat=True)) == [samples[2].pk]


@postgres
def test_a_delete_receiver_means_batches_with_the_reason(
    partitioned: Callable[..., list[str]],
) -> None:
    partitioned(Reading, range(1, 4))
    readings(range(1, 4))
    seen: list[int] = []

    def receiver(sender: Any, instance: Reading, **kwargs: Any) -> None:
        seen.append(instance.value)

    pre_delete.connect(receiver, sender=Reading)
    try:
        result = purge(Reading.objects.filter(at__lt=at(3)))
    finally:
        pre_delete.disconnect(receiver, sender=Reading)

    assert result["dropped_partitions"] == []
    assert result["partitions"] == "batched: testapp.Reading has a delete receiver"
    assert sorted(seen) == [1, 1, 1, 2, 2, 2]
    assert months_left() == [3, 3, 3]


@postgres
def test_another_condition_means_batches_with_the_reason(
    partitioned: Callable[..., list[str]],
) -> None:
    names = partitioned(Reading, range(1, 4))
    readings(range(1, 4))

    result = purge(Reading.objects.filter(at__lt=at(3), at__day__lt=10))

    assert result["dropped_partitions"] == []
    assert result["deleted"] == {"testapp.Reading": 4}
    assert result["partitions"] == (
        "batched: the queryset has another condition than at < value (or at <= value) on "
        "its partition key"
    )
    assert set(names) <= tables()
    assert months_left() == [1, 2, 3, 3, 3]


@postgres
def test_partitions_false_and_the_setting_turn_dropping_off(
    partitioned: Callable[..., list[str]], settings: Any
) -> None:
    names = partitioned(Reading, range(1, 4))
    readings(range(1, 4))

    result = purge(Reading.objects.filter(at__lt=at(2)), partitions=False)

    assert result["dropped_partitions"] == []
    assert result["partitions"] == "batched: dropping partitions is turned off (partitions=False)"
    assert months_left() == [2, 2, 2, 3, 3, 3]

    settings.HOUSEKEEPING = {"PURGE_PARTITIONS": False}
    result = purge(Reading.objects.filter(at__lt=at(3)))
    assert result["dropped_partitions"] == []
    assert months_left() == [3, 3, 3]
    assert set(names) <= tables()
    with pytest.raises(ValueError, match="'partitions' must be True or False"):
        purge(Reading.objects.all(), partitions="yes")  # type: ignore[arg-type]


@postgres
@pytest.mark.parametrize(
    ("column_type", "lower", "upper", "inclusive", "cutoff", "below", "may_match"),
    [
        # A timestamp: only an exclusive bound at or before the cutoff holds nothing after it.
        (
            "timestamp with time zone",
            "'2025-01-01 00:00+00'",
            "'2025-02-01 00:00+00'",
            True,
            at(2, 1),
            True,
            True,
        ),
        (
            "timestamp with time zone",
            "'2025-02-01 00:00+00'",
            "'2025-03-01 00:00+00'",
            False,
            at(2, 1),
            False,
            False,
        ),
        (
            "timestamp with time zone",
            "'2025-02-01 00:00+00'",
            "'2025-03-01 00:00+00'",
            True,
            at(2, 1),
            False,
            True,
        ),
        # A date: FROM 2025-02-01 TO 2025-03-01 holds February, all of it <= 2025-02-28.
        ("date", "'2025-02-01'", "'2025-03-01'", True, date(2025, 2, 28), True, True),
        ("date", "'2025-02-01'", "'2025-03-01'", False, date(2025, 2, 28), False, True),
        # Integers, MINVALUE and MAXVALUE.
        ("bigint", "MINVALUE", "100", True, 99, True, True),
        ("bigint", "100", "MAXVALUE", True, 10_000, False, True),
        ("bigint", "'-5'", "0", False, -5, False, False),
    ],
)
def test_the_server_compares_partition_bounds_with_the_cutoff(
    column_type: str,
    lower: str,
    upper: str,
    inclusive: bool,
    cutoff: object,
    below: bool,
    may_match: bool,
) -> None:
    type_name = "date" if column_type == "date" else column_type.split()[0]
    _, _, is_below, matches = partitions._compare(
        connection.alias,
        lower,
        upper,
        column_type,
        type_name,
        partitions._Cutoff(inclusive=inclusive, param=cutoff),
    )
    assert (is_below, matches) == (below, may_match)


@postgres
def test_a_dropped_partitions_rows_are_postgresqls_estimate_once_it_has_statistics(
    partitioned: Callable[..., list[str]],
) -> None:
    names = partitioned(Reading, range(1, 4))
    readings(range(1, 4), per_month=4)
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{names[0]}"')
        cursor.execute("SELECT reltuples FROM pg_class WHERE relname = %s", [names[0]])
        (estimate,) = cursor.fetchone()
    assert estimate == 4  # ANALYZE counts the rows its own transaction inserted

    result = purge(Reading.objects.filter(at__lt=at(3)))

    # January's statistics give its rows without reading it; February, never analyzed, is counted.
    assert result["dropped_partitions"] == [
        {"name": names[0], "rows": round(estimate)},
        {"name": names[1], "rows": 4},
    ]
    assert result["deleted"] == {"testapp.Reading": round(estimate) + 4}
    assert months_left() == [3, 3, 3, 3]


@postgres
@pytest.mark.parametrize("path", ["spans", "key range", "key range before 14", "key list"])
def test_every_batch_path_deletes_and_counts_the_same_rows(
    partitioned: Callable[..., list[str]], path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A batch of one partition whose rows go alone is a span of the partition's pages on
    # PostgreSQL 14+; a range of keys up to the batch's last key when it is smaller than a page
    # or the server older; with a legal hold on a row of the model, batches read their keys (to
    # leave the held ones). All must delete, and a dry run count, the same rows.
    partitioned(Reading, range(1, 6))
    readings(range(1, 6), per_month=4)
    batch_size = 3 if path == "key range" else None
    if path == "key range before 14":
        monkeypatch.setattr(partitions, "_version", lambda using: 130000)
    if path == "key list":  # a row the purge does not select: nothing is kept, only the path
        holds.place(Reading.objects.latest("at"), reason="Dispute #2")
    queryset = Reading.objects.filter(at__lt=at(3, 15))

    with CaptureQueriesContext(connection) as dry_queries:
        dry = purge(queryset, dry_run=True, partitions=False, batch_size=batch_size)
    assert Reading.objects.count() == 20
    with CaptureQueriesContext(connection) as real_queries:
        real = purge(queryset, partitions=False, batch_size=batch_size)

    assert dry["deleted"] == real["deleted"] == {"testapp.Reading": 10}
    assert dry["batches"] == real["batches"]
    assert dry["held"] == real["held"] == {}
    assert months_left() == [3, 3, 4, 4, 4, 4, 5, 5, 5, 5]
    queries = [q["sql"] for q in dry_queries.captured_queries + real_queries.captured_queries]
    key_reads = [sql for sql in queries if sql.startswith('SELECT "testapp_reading"."id"')]
    spans = [sql for sql in queries if ".ctid >= " in sql]
    if path == "spans":  # no key is read: each statement takes a span of pages
        assert not key_reads
        assert spans
    else:  # the range path reads one key per batch (its last), the key-list path all of them
        assert key_reads
        assert not spans
        assert all(("LIMIT 1 OFFSET" in sql) == (path != "key list") for sql in key_reads)


def mixed_march(layout: list[tuple[int, int]]) -> list[int]:
    """Readings in March's partition in this order, ``(count, day)`` at a time; the keys of
    those before the 15th (the cutoff of the tests below)."""
    Reading.objects.bulk_create(
        Reading(at=at(3, day, hour % 24), value=day)
        for count, day in layout
        for hour in range(count)
    )
    with connection.cursor() as cursor:
        cursor.execute(f'ANALYZE "{partition_name("testapp_reading", 3)}"')
    return sorted(Reading.objects.filter(at__lt=at(3, 15)).values_list("pk", flat=True))


# Pages of rows to purge, a page where they alternate with rows after the cutoff, pages of rows
# after the cutoff only, pages of rows to purge again (a page holds about 150 readings).
MIXED = [(400, 1), *[(1, 2), (1, 20)] * 200, (1200, 21), (400, 3)]


@postgres
def test_batches_by_span_of_pages_go_on_past_pages_holding_no_row_of_the_purge(
    partitioned: Callable[..., list[str]],
) -> None:
    names = partitioned(Reading, [3, 4])
    purged = mixed_march(MIXED)
    assert len(purged) == 1000
    kept = set(Reading.objects.filter(at__gte=at(3, 15)).values_list("pk", flat=True))
    queryset = Reading.objects.filter(at__lt=at(3, 15))

    with CaptureQueriesContext(connection) as dry_queries:
        dry = purge(queryset, dry_run=True, partitions=False, batch_size=300)
    with CaptureQueriesContext(connection) as queries:
        real = purge(queryset, partitions=False, batch_size=300)

    assert dry["deleted"] == real["deleted"] == {"testapp.Reading": 1000}
    assert dry["batches"] == real["batches"]
    assert set(Reading.objects.values_list("pk", flat=True)) == kept
    spans = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert all(".ctid >= " in sql for sql in spans)
    assert [q["sql"] for q in dry_queries.captured_queries if ".ctid >= " in q["sql"]] == [
        sql.replace("DELETE", 'SELECT COUNT(*) AS "__count"', 1) for sql in spans
    ]
    # Some spans held only rows after the cutoff: the purge went on past them to the last one.
    assert len(spans) > real["batches"]
    assert ".ctid < " not in spans[-1]  # the partition's last span goes to its end

    # Each statement is a TID Range Scan of March's partition alone.
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {spans[1]}")
        plan = "\n".join(line for (line,) in cursor.fetchall())
    assert f"Tid Range Scan on {names[0]}" in plan
    assert names[1] not in plan


@postgres
def test_rows_added_below_the_cutoff_during_batches_by_span_are_purged_too(
    partitioned: Callable[..., list[str]],
) -> None:
    partitioned(Reading, [3, 4])
    mixed_march([(1000, 1), (1000, 20)])
    added: list[Reading] = []

    def add(done: int, total: int | None) -> None:
        # After the first batch: more rows than a page holds, so some land in pages the
        # partition did not have when its batches started (its last span has no end).
        if not added:
            added.extend(Reading.objects.bulk_create(Reading(at=at(3, 2)) for _ in range(200)))

    result = purge(
        Reading.objects.filter(at__lt=at(3, 15)), partitions=False, batch_size=300, progress=add
    )

    assert added
    assert result["deleted"] == {"testapp.Reading": 1200}
    assert not Reading.objects.filter(at__lt=at(3, 15)).exists()
    assert Reading.objects.count() == 1000


@postgres
def test_batches_by_span_archive_the_rows_they_delete_and_restore_them(
    partitioned: Callable[..., list[str]], tmp_path: Path
) -> None:
    partitioned(Reading, [3, 4])
    mixed_march(MIXED)
    before = list(Reading.objects.order_by("pk").values())
    archive = tmp_path / "readings.jsonl.gz"

    result = purge(
        Reading.objects.filter(at__lt=at(3, 15)),
        partitions=False,
        batch_size=300,
        archive=archive,
    )

    assert result["deleted"] == {"testapp.Reading": 1000}
    assert Reading.objects.count() == 1400
    outcome = housekeeping("restore", str(archive))
    assert outcome.returncode == 0, outcome
    assert list(Reading.objects.order_by("pk").values()) == before

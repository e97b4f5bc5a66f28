"""Partitioned tables: partitions wholly before the cutoff are dropped on PostgreSQL when nothing
would be lost by it; everything else goes by batches, one partition at a time, and says why."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
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
@pytest.mark.parametrize("batch_size", [3, None])
def test_batches_by_key_range_and_by_key_list_delete_and_count_the_same_rows(
    partitioned: Callable[..., list[str]], batch_size: int | None
) -> None:
    # A batch of one partition whose rows go alone is deleted by its range of keys, without
    # reading the keys; with a legal hold on a row of the model, batches read their keys (to
    # leave the held ones). Both must delete, and a dry run count, the same rows.
    partitioned(Reading, range(1, 6))
    queryset = Reading.objects.filter(at__lt=at(3, 15))
    outcomes = []
    for hold in (False, True):
        Reading.objects.all().delete()
        readings(range(1, 6), per_month=4)
        if hold:  # a row the purge does not select: nothing is kept, only the path changes
            holds.place(Reading.objects.latest("at"), reason="Dispute #2")
        with CaptureQueriesContext(connection) as dry_queries:
            dry = purge(queryset, dry_run=True, partitions=False, batch_size=batch_size)
        assert Reading.objects.count() == 20
        with CaptureQueriesContext(connection) as real_queries:
            real = purge(queryset, partitions=False, batch_size=batch_size)
        assert dry["deleted"] == real["deleted"] == {"testapp.Reading": 10}
        assert dry["batches"] == real["batches"]
        assert dry["held"] == real["held"] == {}
        assert months_left() == [3, 3, 4, 4, 4, 4, 5, 5, 5, 5]
        key_reads = [
            query["sql"]
            for query in dry_queries.captured_queries + real_queries.captured_queries
            if query["sql"].startswith('SELECT "testapp_reading"."id"')
        ]
        assert key_reads
        # The range path reads one key per batch (its last), the key-list path all of them.
        assert all(("LIMIT 1 OFFSET" in sql) != hold for sql in key_reads)
        outcomes.append((dry["deleted"], dry["batches"], months_left()))
    assert outcomes[0] == outcomes[1]

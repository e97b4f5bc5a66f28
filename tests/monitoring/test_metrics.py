"""The Prometheus metrics: who may scrape ``metrics/``, the families and their values (read from
the database, so runs made by other processes count), and the daily rollup's sums behind them."""

from __future__ import annotations

import os
import sys
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connections
from django.db.models import Max, QuerySet, Sum
from django.test import Client
from django.utils import timezone
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from django_housekeeping import registry, run_task
from django_housekeeping.models import DeletionDay, RollupGeneration, RunDay, TaskRun
from django_housekeeping.monitoring import metrics, rollup
from django_housekeeping.probes import METRICS_MISSING
from django_housekeeping.running.history import prune_history
from django_housekeeping.scheduling.slots import record_unrun_slots
from tests.helpers import (
    DASHBOARD,
    Processes,
    make_lease,
    make_run,
    make_user,
    process_environment,
    wait_for,
)
from tests.testapp.models import Post, Thread

pytestmark = pytest.mark.django_db

METRICS = f"{DASHBOARD}metrics/"
TOKEN = "a-scraper-token-for-tests"
FAMILIES = {
    "housekeeping_runs": "counter",
    "housekeeping_run_duration_seconds": "summary",
    "housekeeping_rows_deleted": "counter",
    "housekeeping_last_success_timestamp_seconds": "gauge",
    "housekeeping_scheduler_leader": "gauge",
    "housekeeping_runs_in_progress": "gauge",
}
COUNTED = ("succeeded", "failed", "skipped", "missed", "interrupted", "cancelled")

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@pytest.fixture(autouse=True)
def token(settings: Any) -> None:
    settings.HOUSEKEEPING = {"METRICS_TOKEN": TOKEN}


def scrape(client: Client | None = None, **headers: str) -> Any:
    client = client or Client(headers={"Authorization": f"Bearer {TOKEN}"})
    return client.get(METRICS, headers=headers)


def samples(body: bytes) -> Samples:
    """Every sample of the exposition, keyed by its name and its labels; the families checked."""
    families = list(text_string_to_metric_families(body.decode()))
    assert {family.name: family.type for family in families} == FAMILIES
    assert all(family.documentation for family in families)
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in families
        for sample in family.samples
    }


def of(found: Samples, name: str) -> dict[tuple[str, ...], float]:
    """The samples named ``name``, keyed by their label values (in label-name order)."""
    return {
        tuple(label for _, label in labels): value
        for (sample, labels), value in found.items()
        if sample == name
    }


def zero_runs() -> dict[tuple[str, ...], float]:
    """``housekeeping_runs_total`` before any run: every registered task at 0 in each status."""
    return {(status, task.name): 0.0 for task in registry for status in COUNTED}


def old_thread(posts: int) -> Thread:
    thread = Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=90))
    for _ in range(posts):
        Post.objects.create(thread=thread)
    return thread


# -- who may scrape --------------------------------------------------------------------------------


def test_anonymous_is_asked_for_credentials() -> None:
    response = Client().get(METRICS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="housekeeping metrics"'
    assert "METRICS_TOKEN" in response.json()["detail"]


def test_a_user_without_the_view_permission_is_refused() -> None:
    client = Client()
    client.force_login(make_user("staff", staff=True))
    response = scrape(client)
    assert response.status_code == 403
    assert response.json()["detail"]


def test_a_user_who_may_view_the_history_scrapes() -> None:
    client = Client()
    client.force_login(make_user("viewer", permissions=["view_taskrun"]))
    response = scrape(client)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    samples(response.content)


def test_the_token_lets_a_scraper_in_and_a_wrong_one_does_not() -> None:
    assert scrape().status_code == 200
    wrong = Client(headers={"Authorization": "Bearer not-the-scraper-token"})
    response = scrape(wrong)
    assert response.status_code == 401
    assert response["WWW-Authenticate"]


def test_without_a_token_configured_no_bearer_gets_in(settings: Any) -> None:
    settings.HOUSEKEEPING = {}
    assert scrape().status_code == 401


def test_without_prometheus_client_the_view_answers_501(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [name for name in sys.modules if name.split(".")[0] == "prometheus_client"]:
        monkeypatch.setitem(sys.modules, name, None)  # an import of it fails
    response = scrape()
    assert response.status_code == 501
    assert response.json() == {"detail": METRICS_MISSING}


def test_openmetrics_when_the_scraper_asks_for_it() -> None:
    response = scrape(Accept="application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    text = response.content.decode()
    assert text.endswith("# EOF\n")
    names = {family.name for family in openmetrics_families(text)}
    assert names == set(FAMILIES)


# -- the values ------------------------------------------------------------------------------------


def test_before_any_run_every_task_shows_zeros() -> None:
    found = samples(scrape().content)
    assert of(found, "housekeeping_runs_total") == zero_runs()
    assert of(found, "housekeeping_run_duration_seconds_count") == {
        (task.name,): 0.0 for task in registry
    }
    assert of(found, "housekeeping_rows_deleted_total") == {}
    assert of(found, "housekeeping_last_success_timestamp_seconds") == {}
    assert of(found, "housekeeping_scheduler_leader") == {(): 0.0}
    assert of(found, "housekeeping_runs_in_progress") == {(task.name,): 0.0 for task in registry}


def test_values_after_runs() -> None:
    old_thread(posts=2)
    old_thread(posts=1)
    dry = run_task("threads", dry_run=True)  # would delete: counts nowhere
    assert dry.result["total"] == 5
    purged = run_task("threads")
    assert purged.result["deleted"] == {"testapp.Post": 3, "testapp.Thread": 2}
    failed = run_task("boom")
    assert failed.status == TaskRun.Status.FAILED
    recorded = run_task("record")

    found = samples(scrape().content)

    expected_runs = zero_runs() | {
        ("succeeded", "threads"): 1.0,
        ("failed", "boom"): 1.0,
        ("succeeded", "record"): 1.0,
    }
    assert of(found, "housekeeping_runs_total") == expected_runs
    counts = of(found, "housekeeping_run_duration_seconds_count")
    sums = of(found, "housekeeping_run_duration_seconds_sum")
    for run in (purged, failed, recorded):
        assert counts[(run.task_name,)] == 1.0
        assert sums[(run.task_name,)] == pytest.approx(run.duration_seconds)
    assert counts[("dormant",)] == sums[("dormant",)] == 0.0
    assert of(found, "housekeeping_rows_deleted_total") == {
        ("testapp.Post", "threads"): 3.0,
        ("testapp.Thread", "threads"): 2.0,
    }
    assert purged.finished_at is not None
    assert recorded.finished_at is not None
    assert of(found, "housekeeping_last_success_timestamp_seconds") == {
        ("threads",): pytest.approx(purged.finished_at.timestamp()),
        ("record",): pytest.approx(recorded.finished_at.timestamp()),
    }
    assert set(of(found, "housekeeping_runs_in_progress").values()) == {0.0}


def test_slots_the_scheduler_did_not_run_count_once_per_history_row() -> None:
    """A missed or skipped row the scheduler writes (it may stand for several slots) counts as
    one run of its status, and takes no time in the duration summary."""
    now = timezone.now()
    record_unrun_slots("record", [now - timedelta(minutes=2), now], TaskRun.Status.MISSED, "down")
    record_unrun_slots("threads", [now], TaskRun.Status.SKIPPED, "the previous run was running")

    found = samples(scrape().content)

    assert of(found, "housekeeping_runs_total") == zero_runs() | {
        ("missed", "record"): 1.0,
        ("skipped", "threads"): 1.0,
    }
    assert set(of(found, "housekeeping_run_duration_seconds_count").values()) == {0.0}
    assert of(found, "housekeeping_last_success_timestamp_seconds") == {}


def test_a_dry_run_counts_nowhere() -> None:
    old_thread(posts=1)
    run_task("threads", dry_run=True)
    assert not RunDay.objects.exists()
    assert not DeletionDay.objects.exists()
    found = samples(scrape().content)
    assert of(found, "housekeeping_runs_total") == zero_runs()
    assert of(found, "housekeeping_last_success_timestamp_seconds") == {}


def test_runs_in_progress_and_the_scheduler_leader() -> None:
    make_run("threads", status=TaskRun.Status.RUNNING)
    make_run("record", status=TaskRun.Status.QUEUED, dry_run=True)
    make_run("gone", status=TaskRun.Status.RUNNING)  # a task no longer registered
    lease = make_lease()

    found = samples(scrape().content)
    in_progress = of(found, "housekeeping_runs_in_progress")
    assert in_progress[("threads",)] == in_progress[("record",)] == in_progress[("gone",)] == 1
    assert in_progress[("boom",)] == 0
    assert of(found, "housekeeping_scheduler_leader") == {(): 1.0}

    lease.expires_at = timezone.now() - timedelta(seconds=1)
    lease.save()
    assert of(samples(scrape().content), "housekeeping_scheduler_leader") == {(): 0.0}
    lease.expires_at, lease.owner = timezone.now() + timedelta(seconds=30), ""  # released
    lease.save()
    assert of(samples(scrape().content), "housekeeping_scheduler_leader") == {(): 0.0}


def test_a_scrape_takes_five_queries_however_long_the_history(
    django_assert_num_queries: Any,
) -> None:
    """The closed days' sums are computed by the first scrape of a process; then each scrape
    reads the rollup's generation, the open days' rows, the active runs and the lease."""
    make_lease()
    for age in range(0, 24 * 400, 7):  # over a year of days
        make_run("threads", age=timedelta(hours=age))
        make_run("boom", age=timedelta(hours=age), status=TaskRun.Status.FAILED)
    make_run("record", status=TaskRun.Status.RUNNING)
    assert scrape().status_code == 200
    with django_assert_num_queries(5):
        response = scrape()
    assert response.status_code == 200
    runs = of(samples(response.content), "housekeeping_runs_total")
    assert runs[("failed", "boom")] == runs[("succeeded", "threads")] == len(range(0, 24 * 400, 7))


def test_a_run_recorded_late_on_a_closed_day_counts_at_the_next_scrape() -> None:
    """The closed days' sums a process keeps are computed again when the rollup's generation
    moves: a run of a closed day recorded now, a rebuild."""
    make_run("threads", age=timedelta(days=3))
    assert of(samples(scrape().content), "housekeeping_runs_total")[("succeeded", "threads")] == 1
    generation = RollupGeneration.objects.get(name=rollup.CLOSED_DAYS).generation

    late = make_run("threads", age=timedelta(days=2), duration=timedelta(days=1, hours=1))

    assert RollupGeneration.objects.get(name=rollup.CLOSED_DAYS).generation == generation + 1
    found = samples(scrape().content)
    assert of(found, "housekeeping_runs_total")[("succeeded", "threads")] == 2
    assert late.finished_at is not None
    assert of(found, "housekeeping_last_success_timestamp_seconds")[("threads",)] == (
        pytest.approx(late.finished_at.timestamp())
    )
    TaskRun.objects.filter(pk=late.pk).delete()  # edited by hand, then rebuilt
    rollup.rebuild()
    assert of(samples(scrape().content), "housekeeping_runs_total")[("succeeded", "threads")] == 1


def test_pruning_the_history_keeps_the_closed_days_sums(
    settings: Any, django_assert_num_queries: Any
) -> None:
    """A pruning changes the history's runs of closed days, not the rollup: the next scrape
    does not sum every day again."""
    make_run("threads", age=timedelta(days=40))
    make_run("threads")
    assert scrape().status_code == 200
    settings.HOUSEKEEPING = {"METRICS_TOKEN": TOKEN, "HISTORY_DAYS": 30}
    assert prune_history() == 1
    rollup.closed_days_changed()  # as the leader does after pruning

    with django_assert_num_queries(5):
        response = scrape()
    assert of(samples(response.content), "housekeeping_runs_total")[("succeeded", "threads")] == 2


def per_status(task: str) -> dict[str, tuple[int, float]]:
    """The rollup's runs and seconds of ``task`` per status, over its days and buckets."""
    rows = (
        RunDay.objects.filter(task_name=task)
        .values_list("status")
        .annotate(runs=Sum("runs"), seconds=Sum("seconds"))
        .order_by()
    )
    return {status: (int(runs), float(seconds)) for status, runs, seconds in rows}


# -- the daily rollup's counters ------------------------------------------------------------------


def test_every_finished_status_is_counted_with_its_seconds() -> None:
    for status, seconds in [
        ("succeeded", 2),
        ("succeeded", 3),
        ("failed", 1),
        ("skipped", 0),
        ("interrupted", 40),
    ]:
        make_run("threads", status=status, duration=timedelta(seconds=seconds))
    rollup.record(make_run("threads", status=TaskRun.Status.RUNNING))  # not finished: nothing
    assert per_status("threads") == {
        "succeeded": (2, 5.0),
        "failed": (1, 1.0),
        "skipped": (1, 0.0),
        "interrupted": (1, 40.0),
    }
    found = samples(scrape().content)
    # The summary: succeeded and failed runs only.
    assert of(found, "housekeeping_run_duration_seconds_count")[("threads",)] == 3
    assert of(found, "housekeeping_run_duration_seconds_sum")[("threads",)] == 6.0


def test_a_group_counts_its_own_rows_not_its_members() -> None:
    old_thread(posts=1)
    nightly = run_task("nightly")  # threads, boom, record
    assert nightly.status == TaskRun.Status.FAILED
    assert {(row.task_name, row.status, row.runs) for row in RunDay.objects.all()} == {
        ("nightly", "failed", 1),
        ("threads", "succeeded", 1),
        ("boom", "failed", 1),
        ("record", "succeeded", 1),
    }
    assert {(row.task_name, row.model, row.rows) for row in DeletionDay.objects.all()} == {
        ("threads", "testapp.Thread", 1),
        ("threads", "testapp.Post", 1),
    }


def test_a_result_with_deleted_rows_and_members_counts_only_its_own() -> None:
    group_like = make_run(  # recorded in the rollup
        "custom",
        result={
            "deleted": {"testapp.Thread": 4, "testapp.Post": "many", "testapp.Reaction": 0},
            "tasks": {
                "threads": {"status": "succeeded", "result": {"deleted": {"testapp.Thread": 9}}}
            },
        },
    )
    assert group_like.is_finished
    assert {(row.model, row.rows) for row in DeletionDay.objects.all()} == {
        ("testapp.Thread", 4),
        ("testapp.Reaction", 0),
    }


def test_a_first_row_inserted_by_another_process_meanwhile(monkeypatch: pytest.MonkeyPatch) -> None:
    """The update finds no row; another process inserts it before this one can: the insert fails
    on the unique constraint and the increment is retried as an update."""
    update = QuerySet.update
    raced = []

    def update_then_lose_the_race(self: QuerySet[Any], **kwargs: Any) -> int:
        updated = update(self, **kwargs)
        if self.model is RunDay and not raced:
            raced.append(True)
            RunDay.objects.create(**key, runs=1, seconds=1.0)
        return updated

    run = TaskRun.objects.create(
        task_name="threads",
        status=TaskRun.Status.SUCCEEDED,
        started_at=timezone.now() - timedelta(seconds=2),
        finished_at=timezone.now(),
        duration=timedelta(seconds=2),
    )
    key = {
        "task_name": "threads",
        "day": rollup.run_day(run.started_at),
        "status": "succeeded",
        "bucket": rollup.duration_bucket(2.0),
    }
    monkeypatch.setattr(QuerySet, "update", update_then_lose_the_race)
    rollup.record(run)
    assert raced
    total = RunDay.objects.get()
    assert (total.runs, total.seconds) == (2, 3.0)


@pytest.mark.django_db(transaction=True)
def test_runs_finishing_at_once_in_threads_all_count() -> None:
    started = timezone.now() - timedelta(seconds=1)
    runs = [
        TaskRun.objects.create(
            task_name="threads",
            status=TaskRun.Status.SUCCEEDED,
            started_at=started,
            finished_at=started + timedelta(seconds=1),
            duration=timedelta(seconds=1),
        )
        for _ in range(4)
    ]
    start = threading.Barrier(len(runs))
    errors: list[BaseException] = []

    def finish(run: TaskRun) -> None:
        try:
            start.wait(10)
            rollup.record(run)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=finish, args=(run,)) for run in runs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    total = RunDay.objects.get()
    assert (total.runs, total.seconds) == (4, 4.0)


def test_pruning_the_history_does_not_lower_the_counters(settings: Any) -> None:
    old_thread(posts=1)
    run_task("threads")
    run_task("boom")
    before = samples(scrape().content)
    TaskRun.objects.update(started_at=timezone.now() - timedelta(days=400))
    settings.HOUSEKEEPING = {"METRICS_TOKEN": TOKEN, "HISTORY_DAYS": 30}
    assert prune_history() == 2
    assert not TaskRun.objects.exists()

    after = samples(scrape().content)
    for name in (
        "housekeeping_runs_total",
        "housekeeping_run_duration_seconds_count",
        "housekeeping_run_duration_seconds_sum",
        "housekeeping_rows_deleted_total",
    ):
        assert of(after, name) == of(before, name)
    assert of(after, "housekeeping_rows_deleted_total")[("testapp.Thread", "threads")] == 1
    # The last success is the rollup's too: kept.
    assert of(after, "housekeeping_last_success_timestamp_seconds") == of(
        before, "housekeeping_last_success_timestamp_seconds"
    )
    assert of(after, "housekeeping_last_success_timestamp_seconds") != {}


def test_readings_without_prometheus_client() -> None:
    run_task("record")
    readings = metrics.read()
    assert "record" in readings.tasks
    assert [(total.task, total.status, total.runs) for total in readings.run_totals] == [
        ("record", "succeeded", 1)
    ]
    assert set(readings.last_success) == {"record"}
    assert readings.leader is False
    assert readings.in_progress == {}


# -- runs made by another process ------------------------------------------------------------------


@pytest.mark.processes
@pytest.mark.django_db(transaction=True)
def test_runs_made_by_another_process(tmp_path: Path) -> None:
    """``housekeeping run`` in processes of their own; the scrape in this one sees their runs."""
    old_thread(posts=2)
    old_thread(posts=1)
    processes = Processes(process_environment(3.0), tmp_path)
    try:
        # slow_api (tests/proctasks, registered in those processes only) runs for 6 s.
        slow = processes.django("slow", "housekeeping", "run", "slow_api")
        running = wait_for(
            lambda: TaskRun.objects.filter(task_name="slow_api", status="running").first(),
            30,
            "slow_api to run",
        )
        found = samples(scrape().content)
        assert of(found, "housekeeping_runs_in_progress")[("slow_api",)] == 1
        for name, args, status in [
            ("dry", ["threads", "--dry-run"], 0),
            ("threads", ["threads"], 0),
            ("boom", ["boom"], 1),
        ]:
            process = processes.django(name, "housekeeping", "run", *args)
            assert process.wait(60) == status, processes.logs()
        assert slow.wait(60) == 0, processes.logs()
    finally:
        processes.stop_all()
        print(processes.logs())  # shown by pytest when the test failed

    runs = {run.task_name: run for run in TaskRun.objects.filter(dry_run=False)}
    assert set(runs) == {"threads", "boom", "slow_api"}
    assert TaskRun.objects.filter(task_name="threads", dry_run=True).count() == 1
    assert {running.pid, *(run.pid for run in runs.values())}.isdisjoint({os.getpid()})

    found = samples(scrape().content)
    assert of(found, "housekeeping_runs_total") == zero_runs() | {
        ("succeeded", "threads"): 1.0,
        ("failed", "boom"): 1.0,
        ("succeeded", "slow_api"): 1.0,
    }
    assert of(found, "housekeeping_rows_deleted_total") == {
        ("testapp.Post", "threads"): 3.0,
        ("testapp.Thread", "threads"): 2.0,
    }
    counts = of(found, "housekeeping_run_duration_seconds_count")
    sums = of(found, "housekeeping_run_duration_seconds_sum")
    for run in runs.values():
        assert counts[(run.task_name,)] == 1
        assert sums[(run.task_name,)] == pytest.approx(run.duration_seconds)
    assert sums[("slow_api",)] >= 6
    finished = {name: run.finished_at for name, run in runs.items()}
    assert finished["threads"] is not None
    assert finished["slow_api"] is not None
    assert of(found, "housekeeping_last_success_timestamp_seconds") == {
        ("threads",): pytest.approx(finished["threads"].timestamp()),
        ("slow_api",): pytest.approx(finished["slow_api"].timestamp()),
    }
    assert set(of(found, "housekeeping_runs_in_progress").values()) == {0.0}
    assert of(found, "housekeeping_scheduler_leader") == {(): 0.0}


def test_the_last_success_does_not_move_back() -> None:
    later = make_run("record", age=timedelta(minutes=1))
    earlier = make_run("record", age=timedelta(minutes=10))  # recorded last, finished first

    rows = RunDay.objects.filter(task_name="record", status="succeeded")
    assert rows.aggregate(runs=Sum("runs"), last=Max("last_finished_at")) == {
        "runs": 2,
        "last": later.finished_at,
    }
    assert earlier.finished_at is not None
    assert metrics.read().last_success == {"record": later.finished_at}

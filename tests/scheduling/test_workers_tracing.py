"""A run executed by a real ``db_worker`` continues the trace of the code that queued it.

The worker runs with tests/tracing_process_settings.py: the OpenTelemetry SDK configured as a
site would, its spans appended to a JSON Lines file this test reads.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from opentelemetry import trace

from django_housekeeping import housekeeping_task
from django_housekeeping.models import TaskRun
from django_housekeeping.running.runner import start_runs
from tests.helpers import Processes, process_environment, wait_for
from tests.procapp.models import SoloRecord
from tests.tracing_setup import in_memory, read_file, stop_recording

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.processes,
    pytest.mark.workers,
    # db_worker claims its rows with SKIP LOCKED, which SQLite does not have.
    pytest.mark.databases("postgres", "mysql"),
]


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    environment = process_environment(3.0)
    environment.update(
        DJANGO_SETTINGS_MODULE="tests.tracing_process_settings",
        HOUSEKEEPING_PROCESS_EXECUTOR="database",
        HOUSEKEEPING_PROCESS_SPANS=str(tmp_path / "spans.jsonl"),
    )
    started = Processes(environment, tmp_path)
    yield started
    started.stop_all()
    stop_recording()
    print(started.logs())  # shown by pytest when the test failed


def test_a_worker_run_continues_the_trace_that_queued_it(
    processes: Processes, settings: Any, temporary_tasks: None
) -> None:
    settings.HOUSEKEEPING = {"EXECUTOR": "django_tasks", "EXECUTOR_BACKEND": "database"}

    # This process only records and enqueues the run: the worker has the real task.
    @housekeeping_task(name="traced_purge")
    def traced_purge() -> None:
        raise AssertionError("executed by the worker, never here")

    now = timezone.now()
    SoloRecord.objects.bulk_create(
        SoloRecord(
            task_name="traced", run_id=0, trigger="t", started_at=now, finished_at=now, pid=0
        )
        for _ in range(5)
    )
    in_memory()
    with trace.get_tracer("tests").start_as_current_span("queue the purge") as queuing:
        (dispatched,) = start_runs(["traced_purge"], trigger="api")
    assert dispatched.run.status == "queued"
    (worker,) = [
        processes.django(
            "db_worker",
            "db_worker",
            "--backend",
            "database",
            "--interval",
            "0.2",
            "--no-startup-delay",
            "--no-reload",
        )
    ]

    wait_for(
        lambda: TaskRun.objects.filter(pk=dispatched.run.pk, status="succeeded").exists(),
        60,
        "the worker to run the purge",
    )
    run = TaskRun.objects.get(pk=dispatched.run.pk)
    assert run.pid == worker.pid
    assert not SoloRecord.objects.filter(task_name="traced").exists()
    spans_file = Path(processes.env["HOUSEKEEPING_PROCESS_SPANS"])

    def exported() -> list[dict[str, Any]]:
        spans = read_file(spans_file)
        return spans if any(s["name"] == "housekeeping.run traced_purge" for s in spans) else []

    spans = wait_for(exported, 30, "the worker to export the run's span")
    (span,) = [s for s in spans if s["name"] == "housekeeping.run traced_purge"]
    context = queuing.get_span_context()
    assert span["trace_id"] == context.trace_id
    assert span["parent_id"] == context.span_id
    assert span["attributes"] == {
        "housekeeping.task": "traced_purge",
        "housekeeping.trigger": "api",
        "housekeeping.run_id": run.pk,
        "housekeeping.dry_run": False,
        "housekeeping.status": "succeeded",
        "housekeeping.rows_deleted": 5,
    }
    batches = [s for s in spans if s["name"] == "housekeeping.purge.batch"]
    assert [b["attributes"]["housekeeping.rows"] for b in batches] == [2, 2, 1]
    for batch in batches:
        assert batch["trace_id"] == context.trace_id
        assert batch["parent_id"] == span["span_id"]
        assert batch["attributes"]["housekeeping.model"] == "procapp.SoloRecord"

"""OpenTelemetry traces: a span per run, a child span per purge batch, the trace continued by the
thread that executes a queued run, and nothing at all without ``opentelemetry-api``.

The runs executed by real workers of Django's Tasks framework are in
tests/scheduling/test_workers_tracing.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan

from django_housekeeping import housekeeping_task, tracing
from django_housekeeping.models import TaskRun
from django_housekeeping.running.runner import run_task, start_runs
from tests.helpers import API, SHORT_TEST_KEY, client_for, housekeeping, make_user
from tests.testapp.models import Thread
from tests.tracing_setup import in_memory, stop_recording

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_spans_kept_after_the_test() -> Iterator[None]:
    yield
    stop_recording()


ROOT = Path(__file__).resolve().parent.parent.parent


def old_threads(count: int) -> None:
    for _ in range(count):
        Thread.objects.create(title="old", created_at=timezone.now() - timedelta(days=90))


def run_spans(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [span for span in spans if span.name.startswith("housekeeping.run ")]


def batch_spans(spans: tuple[ReadableSpan, ...]) -> list[ReadableSpan]:
    return [span for span in spans if span.name == "housekeeping.purge.batch"]


def assert_one_traced_purge(
    spans: tuple[ReadableSpan, ...], run: TaskRun, *, trigger: str, rows: int, batches: int
) -> ReadableSpan:
    """One run span with the attributes of ``run``, and its purge's batches as its children."""
    (span,) = run_spans(spans)
    assert span.name == "housekeeping.run threads"
    assert dict(span.attributes or {}) == {
        "housekeeping.task": "threads",
        "housekeeping.trigger": trigger,
        "housekeeping.run_id": run.pk,
        "housekeeping.dry_run": False,
        "housekeeping.status": "succeeded",
        "housekeeping.rows_deleted": rows,
    }
    assert span.status.status_code == trace.StatusCode.UNSET
    children = batch_spans(spans)
    assert len(children) == batches
    assert span.context is not None
    for child in children:
        assert child.parent is not None
        assert child.parent.span_id == span.context.span_id
        assert child.attributes is not None
        assert child.attributes["housekeeping.model"] == "testapp.Thread"
        assert child.attributes["housekeeping.batch_seconds"] >= 0  # type: ignore[operator]
    assert sum(int(child.attributes["housekeeping.rows"]) for child in children) == rows  # type: ignore[index,arg-type]
    return span


@override_settings(HOUSEKEEPING={"PURGE_BATCH_SIZE": 2})
def test_a_cli_run_is_one_span_with_its_batches_as_children() -> None:
    exporter = in_memory()
    old_threads(5)

    outcome = housekeeping("run", "threads")

    assert outcome.returncode == 0, outcome.err
    run = TaskRun.objects.get(task_name="threads")
    assert run.status == "succeeded"
    assert_one_traced_purge(exporter.get_finished_spans(), run, trigger="cli", rows=5, batches=3)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("api_settings", "runs_finish")
@SHORT_TEST_KEY
@override_settings(HOUSEKEEPING={"PURGE_BATCH_SIZE": 2})
def test_an_api_run_continues_the_trace_of_the_request() -> None:
    """Executed by a thread after the request answered, the run is a child of the request's span
    (as a site's Django instrumentation records it)."""
    exporter = in_memory()
    old_threads(3)
    client = client_for(make_user("admin", superuser=True))

    with trace.get_tracer("tests").start_as_current_span("POST trigger") as request:
        response = client.post(API + "trigger?wait=30", {"task": "threads"}, format="json")

    assert response.status_code == 200, response.content
    run = TaskRun.objects.get(task_name="threads")
    span = assert_one_traced_purge(
        exporter.get_finished_spans(), run, trigger="api", rows=3, batches=2
    )
    assert span.context is not None
    assert span.parent is not None
    assert span.context.trace_id == request.get_span_context().trace_id
    assert span.parent.span_id == request.get_span_context().span_id


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("runs_finish")
def test_a_queued_run_carries_the_trace_context_it_continues() -> None:
    exporter = in_memory()

    with trace.get_tracer("tests").start_as_current_span("queuing") as queuing:
        (dispatched,) = start_runs(["record"])
    assert dispatched.wait(30)

    run = TaskRun.objects.get(pk=dispatched.run.pk)
    assert run.trace_context is not None
    assert f"{queuing.get_span_context().trace_id:032x}" in run.trace_context["traceparent"]
    (span,) = run_spans(exporter.get_finished_spans())
    assert span.context is not None
    assert span.context.trace_id == queuing.get_span_context().trace_id


def test_a_run_outside_any_span_carries_no_trace_context(temporary_tasks: None) -> None:
    @housekeeping_task(name="plain")
    def plain() -> None:
        return None

    in_memory()
    assert tracing.carrier() is None
    run = run_task("plain")
    assert run.trace_context is None


def test_a_failed_run_records_the_exception_and_the_error_status() -> None:
    exporter = in_memory()

    run = run_task("boom")

    assert run.status == "failed"
    (span,) = run_spans(exporter.get_finished_spans())
    assert span.attributes is not None
    assert span.attributes["housekeeping.status"] == "failed"
    assert "housekeeping.rows_deleted" not in span.attributes
    assert span.status.status_code == trace.StatusCode.ERROR
    (event,) = span.events
    assert event.name == "exception"
    assert event.attributes is not None
    assert event.attributes["exception.type"] == "RuntimeError"
    assert "boom: the database said no" in str(event.attributes["exception.message"])


def test_a_group_run_is_the_parent_of_its_members_runs() -> None:
    exporter = in_memory()

    run_task("nightly", dry_run=True)

    spans = {span.name: span for span in run_spans(exporter.get_finished_spans())}
    group = spans.pop("housekeeping.run nightly")
    assert group.context is not None
    assert set(spans) == {f"housekeeping.run {name}" for name in ("threads", "boom", "record")}
    for member in spans.values():
        assert member.parent is not None
        assert member.parent.span_id == group.context.span_id
        assert member.attributes is not None
        assert member.attributes["housekeeping.dry_run"] is True


@pytest.mark.django_db(transaction=True)
@pytest.mark.processes
def test_without_opentelemetry_runs_work_and_nothing_is_traced(tmp_path: Path) -> None:
    """``opentelemetry`` made unimportable before Django starts (as if the extra were not
    installed): a purge runs as ever, nothing carries a trace context, and no module of the
    library imported the package."""
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        name = os.path.abspath(name)
    (tmp_path / "no_otel_settings.py").write_text(
        "from tests.settings import *  # noqa: F403\n\n"
        f'DATABASES["default"]["NAME"] = {name!r}  # noqa: F405\n'
    )
    script = textwrap.dedent(
        """
        import sys
        sys.modules["opentelemetry"] = None  # "import opentelemetry" raises ImportError
        import django
        django.setup()
        from django_housekeeping import tracing
        from django_housekeeping.running.runner import run_task, start_runs
        assert not tracing.enabled()
        assert tracing.carrier() is None
        run = run_task("threads")
        (queued,) = start_runs(["record"])
        assert queued.wait(60)
        print(run.status, run.result["total"], run.trace_context, queued.run.status)
        print("loaded:", sorted(m for m in sys.modules if m.startswith("opentelemetry.")))
        """
    )
    old_threads(2)
    completed = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "no_otel_settings",
            "PYTHONPATH": os.pathsep.join(
                filter(None, [str(tmp_path), str(ROOT), os.environ.get("PYTHONPATH")])
            ),
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == ["succeeded 2 None succeeded", "loaded: []"]
    assert not Thread.objects.exists()

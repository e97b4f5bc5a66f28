"""OpenTelemetry traces of runs and purge batches: the one module that imports ``opentelemetry``.

With ``opentelemetry-api`` installed (``pip install django-housekeeping[otel]``) and a
``TracerProvider`` configured by the site, every run is a span ``housekeeping.run <task>`` and each
purge batch a child span ``housekeeping.purge.batch``; without the package every function here is
a no-op (an import-linter contract keeps ``opentelemetry`` out of every other module). Without a
configured SDK, the API's own no-op tracer makes the spans cost next to nothing.

A run recorded ``queued`` carries the W3C trace context of the code that queued it
(:func:`carrier`, kept in the run's ``trace_context``), and the process that executes it — a
thread, or a worker of Django's Tasks framework on another host — continues that trace
(:func:`run_span`).

Sits below the purge engine in the layers: it imports nothing of the library.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from time import monotonic
from typing import Any

try:
    from opentelemetry import propagate, trace
    from opentelemetry.trace import Status, StatusCode

    AVAILABLE = True
except ImportError:  # the optional extra [otel] is not installed: nothing is traced
    AVAILABLE = False

TRACER_NAME = "django_housekeeping"


def enabled() -> bool:
    """Whether ``opentelemetry-api`` is importable (whether a provider exports is the site's)."""
    return AVAILABLE


def carrier() -> dict[str, str] | None:
    """The current trace context as a queued run carries it (``{"traceparent": ...}``, the
    propagators the site configured), or ``None`` outside a recorded span."""
    if not AVAILABLE or not trace.get_current_span().get_span_context().is_valid:
        return None
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers or None


def _parent(carried: Any) -> Any:
    """The context a run continues: the one it carries, else (``None``) the current one."""
    if isinstance(carried, Mapping) and carried:
        return propagate.extract({str(key): str(value) for key, value in carried.items()})
    return None


class RunSpan:
    """What the run path tells the span of a run when it ends (a no-op without a span)."""

    def __init__(self, span: Any = None) -> None:
        self.span = span

    def finish(self, *, status: str, rows: int | None, exception: BaseException | None) -> None:
        """The run ended: its status, the rows it deleted (``None``: it deleted none, it is no
        purge), the exception it failed with."""
        if self.span is None:
            return
        self.span.set_attribute("housekeeping.status", status)
        if rows is not None:
            self.span.set_attribute("housekeeping.rows_deleted", rows)
        if exception is not None:
            self.span.record_exception(exception)
        if status in ("failed", "interrupted"):
            self.span.set_status(Status(StatusCode.ERROR, status))


@contextmanager
def run_span(
    *, task: str, run_id: Any, trigger: str, dry_run: bool, carried: Any = None
) -> Iterator[RunSpan]:
    """The span ``housekeeping.run <task>`` around a run, the current span inside it.

    ``carried`` is the trace context the run carries (:func:`carrier`, where it was queued): the
    span continues that trace, else the current one. The caller reports the outcome with
    :meth:`RunSpan.finish`.
    """
    if not AVAILABLE:
        yield RunSpan()
        return
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        f"housekeeping.run {task}",
        context=_parent(carried),
        kind=trace.SpanKind.INTERNAL,
        attributes={
            "housekeeping.task": task,
            "housekeeping.trigger": trigger,
            "housekeeping.run_id": int(run_id) if run_id is not None else -1,
            "housekeeping.dry_run": dry_run,
        },
        # The run path records a failure itself (finish()); a KeyboardInterrupt passing through
        # is recorded here.
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield RunSpan(span)


class BatchSpan:
    """What the purge engine tells the span of a batch (a no-op without a span)."""

    def __init__(self, span: Any = None) -> None:
        self.span = span
        self.started = monotonic()

    def done(self, rows: int) -> None:
        if self.span is not None:
            self.span.set_attribute("housekeeping.rows", rows)
            self.span.set_attribute(
                "housekeeping.batch_seconds", round(monotonic() - self.started, 6)
            )


@contextmanager
def batch_span(model: str, *, dry_run: bool) -> Iterator[BatchSpan]:
    """The span ``housekeeping.purge.batch`` around one batch of a purge (the model, its rows and
    its duration); an exception leaving it is recorded and sets its status."""
    if not AVAILABLE:
        yield BatchSpan()
        return
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        "housekeeping.purge.batch",
        attributes={"housekeeping.model": model, "housekeeping.dry_run": dry_run},
    ) as span:
        yield BatchSpan(span)

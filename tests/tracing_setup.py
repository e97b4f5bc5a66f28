"""The OpenTelemetry SDK as a site configures it, for the tests: one global ``TracerProvider``
per process (the API lets it be set once), exporting to memory (the test process) or, in the
worker processes a test starts, to a JSON Lines file the test reads.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Sequence
from pathlib import Path

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.id_generator import IdGenerator

_memory: InMemorySpanExporter | None = None
_recording = False


class _SecretsIdGenerator(IdGenerator):
    """Span and trace ids from ``secrets``, not from the ``random`` module's global state as the
    SDK's default generator draws them: the provider stays for the rest of the session, and a
    run's spans drawn from ``random`` in a thread while Hypothesis generates an example (the
    schemathesis tests' triggered runs) make Hypothesis fail on a changed global random state."""

    def generate_span_id(self) -> int:
        return secrets.randbits(64) or 1

    def generate_trace_id(self) -> int:
        return secrets.randbits(128) or 1


class _WhileRecording(SimpleSpanProcessor):
    """Exports only between :func:`in_memory` and :func:`stop_recording`: the provider stays
    for the rest of the test session, and the other tests' spans are not kept."""

    def on_end(self, span: ReadableSpan) -> None:
        if _recording:
            super().on_end(span)


def in_memory() -> InMemorySpanExporter:
    """The test process's exporter (installed on first use), emptied and recording."""
    global _memory, _recording
    if _memory is None:
        _memory = InMemorySpanExporter()
        provider = TracerProvider(id_generator=_SecretsIdGenerator())
        provider.add_span_processor(_WhileRecording(_memory))
        trace.set_tracer_provider(provider)
    _memory.clear()
    _recording = True
    return _memory


def stop_recording() -> None:
    global _recording
    _recording = False
    if _memory is not None:
        _memory.clear()


class JsonLinesExporter(SpanExporter):
    """Appends one JSON line per finished span to a file (a worker's spans, for the test)."""

    def __init__(self, path: str) -> None:
        self.path = Path(path)

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        with self.path.open("a") as out:
            for span in spans:
                out.write(json.dumps(as_dict(span)) + "\n")
        return SpanExportResult.SUCCESS


def to_file(path: str) -> None:
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(JsonLinesExporter(path)))
    trace.set_tracer_provider(provider)


def as_dict(span: ReadableSpan) -> dict[str, object]:
    context = span.get_span_context()
    assert context is not None
    return {
        "name": span.name,
        "trace_id": context.trace_id,
        "span_id": context.span_id,
        "parent_id": span.parent.span_id if span.parent is not None else None,
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
        "events": [event.name for event in span.events],
    }


def read_file(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]

"""Cron-monitor check-ins: a local HTTP server plays healthchecks.io; Sentry Crons is a stub of
``sentry_sdk.crons``.

No test measures time: a monitor that does not answer is shown to cost at most its timeout by
the number of attempts it saw, and by the run succeeding.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import types
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import override_settings

from django_housekeeping import housekeeping_task
from django_housekeeping.conf.ping_urls import expand, ping_url_problems, redacted
from django_housekeeping.monitoring import checkins
from django_housekeeping.running.heartbeats import mark_interrupted
from django_housekeeping.running.runner import run_task
from tests.helpers import free_port, housekeeping, make_run

pytestmark = pytest.mark.django_db

SECRET = "0f3e8a2c-5b1d-4c7e-9a6f-secret"


class Monitor:
    """An HTTP server on 127.0.0.1 that records the paths it is asked for."""

    def __init__(self, status: int = 200) -> None:
        self.paths: list[str] = []
        self.status = status
        monitor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                monitor.paths.append(self.path)
                self.send_response(monitor.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/{SECRET}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Silent:
    """A monitor that accepts connections and never answers; counts the connections."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(connection)  # held open, never answered

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}/{SECRET}"

    def close(self) -> None:
        self.sock.close()
        for connection in self.accepted:
            connection.close()


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    server = Monitor()
    yield server
    server.close()


@pytest.fixture
def pinged(temporary_tasks: None, monitor: Monitor) -> Monitor:
    """Tasks ``good`` and ``bad`` (it raises) checking in with ``monitor``."""

    @housekeeping_task(name="good", ping_url=monitor.url)
    def good() -> dict[str, int]:
        return {"done": 1}

    @housekeeping_task(name="bad", ping_url=monitor.url)
    def bad() -> None:
        raise RuntimeError("bad")

    return monitor


def test_a_good_run_checks_in_start_then_success(pinged: Monitor) -> None:
    run = run_task("good")

    assert run.status == "succeeded"
    assert pinged.paths == [f"/{SECRET}/start", f"/{SECRET}"]


def test_a_failing_run_checks_in_start_then_fail(pinged: Monitor) -> None:
    run = run_task("bad")

    assert run.status == "failed"
    assert pinged.paths == [f"/{SECRET}/start", f"/{SECRET}/fail"]


def test_a_dry_run_does_not_check_in(pinged: Monitor) -> None:
    assert run_task("good", dry_run=True).status == "succeeded"
    assert run_task("bad", dry_run=True).status == "failed"

    assert pinged.paths == []


def test_a_cli_run_checks_in(pinged: Monitor) -> None:
    outcome = housekeeping("run", "good")

    assert outcome.returncode == 0, outcome.err
    assert pinged.paths == [f"/{SECRET}/start", f"/{SECRET}"]


def test_the_pattern_setting_gives_each_task_its_url(
    temporary_tasks: None, monitor: Monitor
) -> None:
    @housekeeping_task(name="app.nightly purge")
    def nightly() -> None:
        return None

    @housekeeping_task(name="quiet", ping_url="")
    def quiet() -> None:
        return None

    pattern = monitor.url + "/{task}"
    with override_settings(HOUSEKEEPING={"PING_URL": pattern}):
        run_task("app.nightly purge")
        run_task("quiet")  # its own "" turns the check-ins off

    assert monitor.paths == [
        f"/{SECRET}/app.nightly%20purge/start",
        f"/{SECRET}/app.nightly%20purge",
    ]


def test_a_task_override_replaces_the_declared_url(pinged: Monitor) -> None:
    other = Monitor()
    try:
        with override_settings(HOUSEKEEPING={"TASKS": {"good": {"ping_url": other.url}}}):
            run_task("good")
    finally:
        other.close()

    assert pinged.paths == []
    assert other.paths == [f"/{SECRET}/start", f"/{SECRET}"]


def test_an_unreachable_monitor_is_tried_twice_logged_by_its_host_and_the_run_succeeds(
    temporary_tasks: None, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"http://127.0.0.1:{free_port()}/{SECRET}"  # nobody listens there

    @housekeeping_task(name="lonely", ping_url=url)
    def lonely() -> None:
        return None

    attempts: list[str] = []
    real_urlopen = checkins.urllib.request.urlopen

    def counting(request: Any, timeout: float) -> Any:
        attempts.append(request.full_url)
        return real_urlopen(request, timeout=timeout)

    with (
        caplog.at_level(logging.WARNING, "django_housekeeping"),
        pytest.MonkeyPatch.context() as patch,
    ):
        patch.setattr(checkins.urllib.request, "urlopen", counting)
        run = run_task("lonely")

    assert run.status == "succeeded"
    assert attempts == [url + "/start"] * 2 + [url] * 2
    warnings = [r for r in caplog.records if r.name == "django_housekeeping.monitoring"]
    assert len(warnings) == 2
    for record in warnings:
        assert record.levelno == logging.WARNING
        assert "http://127.0.0.1/…" in record.getMessage()
    assert SECRET not in caplog.text


@override_settings(HOUSEKEEPING={"PING_TIMEOUT": 0.5})
def test_a_monitor_that_never_answers_costs_at_most_its_timeout(
    temporary_tasks: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Its first attempt uses the whole timeout: the retry has too little left, and is not
    tried."""
    silent = Silent()

    @housekeeping_task(name="patient", ping_url=silent.url)
    def patient() -> None:
        return None

    try:
        with caplog.at_level(logging.WARNING, "django_housekeeping.monitoring"):
            run = run_task("patient")
    finally:
        silent.close()

    assert run.status == "succeeded"
    assert len(silent.accepted) == 2  # /start once, the success once: no retry after a timeout
    assert "timed out" in caplog.text
    assert SECRET not in caplog.text


def test_a_monitor_answering_an_error_is_retried_once(pinged: Monitor) -> None:
    pinged.status = 503

    run = run_task("good")

    assert run.status == "succeeded"
    assert pinged.paths == [f"/{SECRET}/start"] * 2 + [f"/{SECRET}"] * 2


def test_an_interrupted_run_checks_in_a_failure(
    pinged: Monitor, django_capture_on_commit_callbacks: Any
) -> None:
    """Marked interrupted by another process (its own died): that process checks in the
    failure."""
    stale = make_run("good", status="running", age=timedelta(hours=1), duration=None)

    with django_capture_on_commit_callbacks(execute=True):
        (interrupted,) = mark_interrupted(run_id=stale.pk)

    assert interrupted.status == "interrupted"
    assert pinged.paths == [f"/{SECRET}/fail"]


# -- Sentry Crons ----------------------------------------------------------------------------------


@pytest.fixture
def sentry(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """A stub of ``sentry_sdk.crons``: the check-ins it was given."""
    calls: list[dict[str, Any]] = []

    def capture_checkin(**kwargs: Any) -> str:
        calls.append(kwargs)
        return kwargs.get("check_in_id") or f"checkin-{len(calls)}"

    package = types.ModuleType("sentry_sdk")
    crons = types.ModuleType("sentry_sdk.crons")
    crons.capture_checkin = capture_checkin  # type: ignore[attr-defined]
    package.crons = crons  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sentry_sdk", package)
    monkeypatch.setitem(sys.modules, "sentry_sdk.crons", crons)
    return calls


def test_sentry_crons_check_ins(temporary_tasks: None, sentry: list[dict[str, Any]]) -> None:
    @housekeeping_task(name="watched", sentry_monitor="nightly-purge")
    def watched() -> None:
        return None

    @housekeeping_task(name="watched_bad", sentry_monitor="bad-one")
    def watched_bad() -> None:
        raise ValueError("no")

    run_task("watched")
    run_task("watched_bad")
    run_task("watched", dry_run=True)

    assert [(c["monitor_slug"], c["status"], c["check_in_id"]) for c in sentry] == [
        ("nightly-purge", "in_progress", None),
        ("nightly-purge", "ok", "checkin-1"),
        ("bad-one", "in_progress", None),
        ("bad-one", "error", "checkin-3"),
    ]
    assert sentry[1]["duration"] is not None


def test_without_sentry_sdk_a_sentry_monitor_sends_nothing(
    temporary_tasks: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sentry_sdk", None)
    monkeypatch.setitem(sys.modules, "sentry_sdk.crons", None)

    @housekeeping_task(name="watched", sentry_monitor="nightly-purge")
    def watched() -> None:
        return None

    assert run_task("watched").status == "succeeded"


# -- the URLs ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "pattern", "problems"),
    [
        ("https://hc-ping.com/abc", False, []),
        ("https://hc-ping.com/abc/{task}", True, []),
        ("", True, []),
        (None, True, []),
        (
            "https://hc-ping.com/abc",
            True,
            ["must contain {task}, which stands for each task's name"],
        ),
        ("ftp://host/x", False, ["must be an http:// or https:// URL with a host"]),
        ("hc-ping.com/abc", False, ["must be an http:// or https:// URL with a host"]),
        (
            "https://host/x?a=1",
            False,
            ["must have no query or fragment (the check-ins append /start, /fail)"],
        ),
        ("https://host/{name}", False, ["has an unknown placeholder {name}"]),
        (
            "https://host/{task",
            False,
            ["has unbalanced braces (expected '}' before end of string)"],
        ),
        ("https://host:port/x", False, ["is no URL"]),
        (42, False, ["must be a URL, got int"]),
    ],
)
def test_ping_url_problems(value: Any, pattern: bool, problems: list[str]) -> None:
    assert ping_url_problems(value, pattern=pattern) == problems


def test_the_redacted_form_keeps_the_host_only() -> None:
    assert redacted(f"https://hc-ping.com/{SECRET}") == "https://hc-ping.com/…"
    assert redacted("https://user:pw@host:8000/x") == "https://host/…"
    assert expand("https://h/{task}", "a/b c") == "https://h/a%2Fb%20c"


def test_a_malformed_decorator_url_is_refused() -> None:
    with pytest.raises(ValueError, match=r"ping_url=\.\.\.") as raised:
        housekeeping_task(ping_url="hc-ping.com/x")
    assert "http:// or https://" in str(raised.value)


def test_the_system_checks(temporary_tasks: None, monkeypatch: pytest.MonkeyPatch) -> None:
    from django.core.checks import run_checks

    monkeypatch.setitem(sys.modules, "sentry_sdk", None)

    @housekeeping_task(name="sentried", sentry_monitor="slug")
    def sentried() -> None:
        return None

    with override_settings(
        HOUSEKEEPING={
            "PING_URL": "https://hc-ping.com/key",
            "TASKS": {"sentried": {"ping_url": "ftp://x/y"}},
        }
    ):
        messages = run_checks(tags=["django_housekeeping"])

    found = {(m.id, m.msg) for m in messages if m.id.endswith(("E019", "W005"))}
    assert found == {
        (
            "django_housekeeping.E019",
            "HOUSEKEEPING['PING_URL'] must contain {task}, which stands for each task's name.",
        ),
        (
            "django_housekeeping.E019",
            "HOUSEKEEPING['TASKS']['sentried']['ping_url'] must be an http:// or https:// URL "
            "with a host.",
        ),
        (
            "django_housekeeping.W005",
            "Task 'sentried' has the Sentry monitor 'slug', but sentry_sdk is not installed: it "
            "sends no Sentry check-in.",
        ),
    }

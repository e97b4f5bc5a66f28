"""AUTOSTART: which processes serve, and starting one scheduler per serving process, lazily."""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import get_commands, load_command_class
from django.core.management.commands.runserver import Command as CoreRunserver
from django.core.signals import request_started
from django.db import close_old_connections
from django.test import override_settings

from django_housekeeping.management.commands import runserver as runserver_module
from django_housekeeping.scheduling import autostart
from django_housekeeping.scheduling.autostart import (
    ensure_started,
    is_serving_process,
    start_on_first_request,
)
from tests.helpers import current_service


class FakeService:
    """Stands in for SchedulerService: records that it was started, starts no thread."""

    instances: list[FakeService] = []

    def __init__(self) -> None:
        self.started = 0
        self.stopped = 0
        self.is_running = True
        FakeService.instances.append(self)

    def start(self) -> None:
        self.started += 1

    def stop(self) -> None:
        self.stopped += 1
        self.is_running = False


@pytest.fixture(autouse=True)
def clean_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """No service, no uWSGI, no RUN_MAIN, and no real atexit hooks for the duration of a test."""
    monkeypatch.setattr(autostart, "_service", None)
    monkeypatch.setattr(autostart, "_service_pid", None)
    monkeypatch.delitem(sys.modules, "uwsgi", raising=False)
    monkeypatch.delenv("RUN_MAIN", raising=False)
    FakeService.instances = []


@pytest.fixture
def fake_service(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """SchedulerService replaced by FakeService; returns the functions given to atexit."""
    exit_hooks: list[Any] = []
    monkeypatch.setattr(autostart, "SchedulerService", FakeService)
    monkeypatch.setattr(autostart.atexit, "register", exit_hooks.append)
    return exit_hooks


@pytest.fixture
def started_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    monkeypatch.setattr(autostart, "ensure_started", lambda: calls.append(1))
    return calls


# -- is_serving_process -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["manage.py", "runserver", "--noreload"],
        ["manage.py", "runserver", "0.0.0.0:8000", "--noreload"],
        ["/srv/site/venv/bin/gunicorn", "site.wsgi", "-w", "4"],
        ["gunicorn", "site.wsgi"],
        ["/srv/site/venv/lib/python3.12/site-packages/gunicorn/__main__.py", "site.wsgi"],
        ["/srv/site/venv/bin/uvicorn", "site.asgi:application"],
        ["/srv/site/venv/lib/python3.12/site-packages/uvicorn/__main__.py", "site.asgi:app"],
        ["/srv/site/venv/bin/daphne", "site.asgi:application"],
        ["/srv/site/venv/bin/hypercorn", "site.asgi:application"],
        ["/srv/site/venv/bin/granian", "--interface", "asgi", "site.asgi:application"],
        ["/srv/site/venv/bin/waitress-serve", "site.wsgi:application"],
    ],
)
def test_servers_are_serving_processes(argv: list[str]) -> None:
    assert is_serving_process(argv) is True


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["manage.py", "runserver"],  # the autoreloader's parent only watches files
        ["manage.py", "migrate"],
        ["manage.py", "shell"],
        ["manage.py", "test"],
        ["manage.py", "housekeeping", "scheduler"],
        ["manage.py"],
        ["/srv/site/venv/bin/pytest", "-q"],
        ["/srv/site/venv/lib/python3.12/site-packages/pytest/__main__.py", "-q"],
        ["/srv/site/venv/bin/celery", "-A", "site", "worker"],
    ],
)
def test_other_processes_are_not_serving(argv: list[str]) -> None:
    assert is_serving_process(argv) is False


def test_the_runserver_child_is_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_MAIN", "true")
    assert is_serving_process(["manage.py", "runserver"]) is True
    assert is_serving_process(["/srv/site/venv/lib/django/__main__.py", "runserver"]) is True
    assert is_serving_process(["manage.py", "migrate"]) is False  # RUN_MAIN alone is not enough


def test_run_main_must_be_exactly_true(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUN_MAIN", "1")
    assert is_serving_process(["manage.py", "runserver"]) is False


def test_a_uwsgi_worker_is_serving(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "uwsgi", object())
    assert is_serving_process(["/srv/site/venv/bin/anything"]) is True


def test_the_default_argv_is_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    assert is_serving_process() is False  # pytest
    monkeypatch.setattr(sys, "argv", ["/srv/site/venv/bin/gunicorn", "site.wsgi"])
    assert is_serving_process() is True


def test_a_management_command_in_a_directory_named_like_a_server_is_not_serving() -> None:
    assert is_serving_process(["/srv/daphne/manage.py", "migrate"]) is False


# -- start_on_first_request -----------------------------------------------------------------------


def test_the_receiver_is_connected_to_request_started() -> None:
    receivers = [
        receiver() if callable(receiver) else receiver
        for _key, receiver, *_ in request_started.receivers
    ]
    assert start_on_first_request in receivers
    keys = [key for key, *_ in request_started.receivers]
    assert any(key[0] == "django_housekeeping.scheduling.autostart" for key in keys)


def test_a_serving_process_starts_on_its_first_request(
    monkeypatch: pytest.MonkeyPatch, started_calls: list[int]
) -> None:
    monkeypatch.setattr(sys, "argv", ["/srv/site/venv/bin/gunicorn", "site.wsgi"])

    # As Django's test client does: no close_old_connections (it would need the database).
    request_started.disconnect(close_old_connections)
    try:
        request_started.send(sender=None)
    finally:
        request_started.connect(close_old_connections)

    assert started_calls == [1]


def test_nothing_starts_when_autostart_is_off(
    monkeypatch: pytest.MonkeyPatch, started_calls: list[int]
) -> None:
    monkeypatch.setattr(sys, "argv", ["/srv/site/venv/bin/gunicorn", "site.wsgi"])
    with override_settings(HOUSEKEEPING={"AUTOSTART": False}):
        start_on_first_request()
    assert started_calls == []


def test_nothing_starts_in_a_process_that_does_not_serve(
    monkeypatch: pytest.MonkeyPatch, started_calls: list[int]
) -> None:
    for argv in (["manage.py", "migrate"], ["manage.py", "shell"], ["manage.py", "runserver"]):
        monkeypatch.setattr(sys, "argv", argv)
        start_on_first_request()
    assert started_calls == []


def test_nothing_starts_twice_in_one_process(
    monkeypatch: pytest.MonkeyPatch, started_calls: list[int]
) -> None:
    monkeypatch.setattr(sys, "argv", ["/srv/site/venv/bin/gunicorn", "site.wsgi"])
    monkeypatch.setattr(autostart, "_service_pid", os.getpid())
    start_on_first_request()
    assert started_calls == []


@pytest.mark.django_db
def test_test_client_requests_start_nothing(client: Any) -> None:
    """pytest is not a server: requests made with the test client leave the scheduler off."""
    response = client.get("/admin/login/")
    assert response.status_code == 200
    assert current_service() is None
    assert autostart._service is None


# -- ensure_started -------------------------------------------------------------------------------


def test_the_service_is_stopped_at_exit_whatever_sigterm_comes_next(
    fake_service: list[Any],
) -> None:
    service = ensure_started()
    handler = signal.getsignal(signal.SIGTERM)
    try:
        [stop_at_exit] = fake_service
        stop_at_exit()
        # A second SIGTERM (a process group signalled as a whole) cannot cut the stop short.
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGTERM, handler)
    assert service.stopped == 1


def test_ensure_started_starts_one_service_per_process(fake_service: list[Any]) -> None:
    first = ensure_started()

    assert isinstance(first, FakeService)
    assert first.started == 1
    assert len(fake_service) == 1
    assert current_service() is first

    assert ensure_started() is first
    assert ensure_started() is first
    assert len(FakeService.instances) == 1
    assert first.started == 1


def test_ensure_started_starts_anew_after_a_fork(
    fake_service: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    inherited = ensure_started()
    monkeypatch.setattr(autostart, "_service_pid", os.getpid() + 1)  # started by the parent
    assert current_service() is None

    child = ensure_started()

    assert child is not inherited
    assert child.started == 1
    assert current_service() is child


def test_ensure_started_replaces_a_service_that_stopped(fake_service: list[Any]) -> None:
    first = ensure_started()
    first.stop()

    second = ensure_started()

    assert second is not first
    assert second.started == 1


def test_the_first_request_goes_through_ensure_started(
    fake_service: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", ["/srv/site/venv/bin/uvicorn", "site.asgi:application"])

    start_on_first_request()
    start_on_first_request()

    assert len(FakeService.instances) == 1
    assert current_service() is FakeService.instances[0]


# -- runserver ------------------------------------------------------------------------------------


def test_this_apps_runserver_is_the_one_django_runs() -> None:
    assert get_commands()["runserver"] == "django_housekeeping"
    assert isinstance(load_command_class("django_housekeeping", "runserver"), CoreRunserver)


@pytest.fixture
def inner_runs(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """Django's inner_run replaced by a counter; the SIGTERM handler ours installs, undone."""
    calls: list[int] = []
    monkeypatch.setattr(CoreRunserver, "inner_run", lambda self, *args, **options: calls.append(1))
    handler = signal.getsignal(signal.SIGTERM)
    yield calls
    signal.signal(signal.SIGTERM, handler)


def test_runserver_with_noreload_exits_cleanly_on_sigterm(inner_runs: list[int]) -> None:
    """Python's default would end the process at once, without the atexit hook that stops the
    scheduler and releases its lease."""
    with override_settings(HOUSEKEEPING={"AUTOSTART": False}):
        runserver_module.Command().inner_run(use_threading=True)

    handler = signal.getsignal(signal.SIGTERM)
    assert callable(handler)
    with pytest.raises(SystemExit) as exited:
        handler(signal.SIGTERM, None)
    assert exited.value.code == 0


def test_runserver_starts_the_scheduler_in_the_serving_process(
    monkeypatch: pytest.MonkeyPatch, inner_runs: list[int]
) -> None:
    started: list[int] = []
    monkeypatch.setattr(runserver_module, "ensure_started", lambda: started.append(1))

    runserver_module.Command().inner_run(use_threading=True)

    assert started == [1]
    assert inner_runs == [1]


def test_runserver_leaves_the_scheduler_off_without_autostart(
    monkeypatch: pytest.MonkeyPatch, inner_runs: list[int]
) -> None:
    started: list[int] = []
    monkeypatch.setattr(runserver_module, "ensure_started", lambda: started.append(1))

    with override_settings(HOUSEKEEPING={"AUTOSTART": False}):
        runserver_module.Command().inner_run(use_threading=True)

    assert started == []
    assert inner_runs == [1]


def test_runserver_extends_staticfiles_runserver_when_installed() -> None:
    from django.contrib.staticfiles.management.commands.runserver import (
        Command as StaticfilesRunserver,
    )

    assert runserver_module._base_command() is CoreRunserver
    with override_settings(
        INSTALLED_APPS=["django.contrib.staticfiles", "django_housekeeping"],
        STATIC_URL="/static/",
    ):
        assert runserver_module._base_command() is StaticfilesRunserver

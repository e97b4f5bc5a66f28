"""What the tests share: waiting on conditions, users and API clients, run and lease rows, the
keys of the plain-data views, real processes on the test database. Fixtures live in conftest.py."""

from __future__ import annotations

import functools
import io
import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission, User
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from django_housekeeping.models import SchedulerLease, TaskRun
from django_housekeeping.monitoring import rollup
from django_housekeeping.presenters import read_result
from django_housekeeping.scheduling import autostart
from django_housekeeping.scheduling.lease import LEASE_NAME

# -- waiting on conditions with a deadline -------------------------------------------------------

T = TypeVar("T")


def wait_for(
    predicate: Callable[[], T],
    timeout: float = 10,
    what: str = "a condition",
    interval: float = 0.05,
) -> T:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# -- users, clients, run and lease rows ----------------------------------------------------------

API = "/api/admin/scheduler/"
DASHBOARD = "/scheduler-admin/"
PASSWORD = "correct horse battery staple"

# The tests' SECRET_KEY is shorter than PyJWT recommends for HS256 (a test-only key); simplejwt
# builds its signer from it when first imported, so the settings cannot lengthen it per test.
SHORT_TEST_KEY = pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")

# The example project's authentication: JWT first (its challenge makes "no credentials" a 401),
# then the session (the browsable pages, the dashboard's own login).
JWT_AND_SESSION = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ]
}


@functools.cache
def password_hash() -> str:
    """``PASSWORD`` hashed once: hashing it for every user would take most of the tests' time."""
    return make_password(PASSWORD)


def make_user(
    username: str, *, staff: bool = False, superuser: bool = False, permissions: Sequence[str] = ()
) -> User:
    """A user whose password is ``PASSWORD``, with the named permissions (codenames)."""
    user = User.objects.create(
        username=username,
        email=f"{username}@example.com",
        password=password_hash(),
        is_staff=staff or superuser,
        is_superuser=superuser,
    )
    for codename in permissions:
        user.user_permissions.add(Permission.objects.get(codename=codename))
    return user


def client_for(user: User | None, *, token: str | None = None) -> APIClient:
    """An API client sending ``user``'s JWT (or ``token``; no credentials for ``None``)."""
    client = APIClient()
    if user is not None:
        token = str(RefreshToken.for_user(user).access_token)
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def make_run(
    task_name: str,
    *,
    age: timedelta = timedelta(0),
    duration: timedelta | None = timedelta(seconds=2),
    **fields: Any,
) -> TaskRun:
    """A run row written directly (no task executes), started ``age`` ago (or at ``started_at``),
    finished ``duration`` later (unfinished with ``None``); a queued or running one holds its
    task's active-run claim, as a live run does. A finished one is added to the daily rollup
    (the statistics and the metrics' counters), as a run that finishes is."""
    started = timezone.now() - age
    defaults: dict[str, Any] = {
        "trigger": TaskRun.Trigger.SCHEDULE,
        "status": TaskRun.Status.SUCCEEDED,
        "started_at": started,
        "heartbeat_at": started,
    }
    defaults.update(fields)
    if defaults["status"] in TaskRun.ACTIVE_STATUSES:
        defaults.setdefault("active_task", task_name)
    elif duration is not None:
        defaults.setdefault("finished_at", defaults["started_at"] + duration)
        defaults.setdefault("duration", defaults["finished_at"] - defaults["started_at"])
    run = TaskRun.objects.create(task_name=task_name, **defaults)
    rollup.record(run)
    return run


def make_lease(
    *, heartbeat_age: float = 2, expires_in: float = 28, owner: str = "web-1:4242:abc"
) -> SchedulerLease:
    """The scheduler lease as a leader on host web-1, pid 4242, last renewed ``heartbeat_age``
    seconds ago, left it (``owner=""`` for a released lease)."""
    now = timezone.now()
    return SchedulerLease.objects.create(
        name=LEASE_NAME,
        owner=owner,
        token=3,
        host="web-1",
        pid=4242,
        acquired_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(seconds=heartbeat_age),
        expires_at=now + timedelta(seconds=expires_in),
    )


# -- the keys of the plain-data views of runs and tasks (the CLI's --json and the API) ------------

RUN_KEYS = {
    "id",
    "task",
    "status",
    "trigger",
    "triggered_by",
    "dry_run",
    "slot",
    "started_at",
    "finished_at",
    "duration_seconds",
    "progress",
    "result",
    "error",
    "host",
    "pid",
    "parent_id",
    "attempt",
    "retry_of_id",
    "cancel_requested_at",
    "cancelled_by",
}
TASK_KEYS = {
    "name",
    "description",
    "schedule",
    "enabled",
    "state",
    "paused",
    "after",
    "options",
    "tags",
    "members",
    "timeout",
    "last_run",
}


# -- the command line, called the way Django's tests do ------------------------------------------


@dataclass
class Outcome:
    """What ``manage.py housekeeping ARGS`` printed, and its exit status."""

    out: str
    err: str
    returncode: int
    message: str = ""

    def json(self) -> Any:
        return json.loads(self.out)

    def table(self) -> list[dict[str, str]]:
        return parse_table(self.out)


def housekeeping(*args: str) -> Outcome:
    """``housekeeping ARGS`` through call_command; a CommandError becomes its return code."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("housekeeping", *args, stdout=out, stderr=err)
    except CommandError as exc:
        return Outcome(out.getvalue(), err.getvalue(), exc.returncode, str(exc))
    return Outcome(out.getvalue(), err.getvalue(), 0)


def parse_table(text: str) -> list[dict[str, str]]:
    """The rows of the first plain-text table in ``text``, as dicts keyed by the headers."""
    lines = text.splitlines()
    rule = next(i for i, line in enumerate(lines) if line and set(line) <= {"-", " "})
    spans, start = [], 0
    for dashes in lines[rule].split("  "):
        if dashes:
            start = lines[rule].index(dashes, start)
            spans.append((start, start + len(dashes)))
            start += len(dashes)
    # The last column may be wider than its rule when a later cell is longer.
    spans[-1] = (spans[-1][0], max(len(line) for line in lines))

    def cells(line: str) -> list[str]:
        return [line[begin:end].strip() for begin, end in spans]

    headers = cells(lines[rule - 1])
    rows = []
    for line in lines[rule + 1 :]:
        if not line.strip():
            break
        rows.append(dict(zip(headers, cells(line), strict=True)))
    return rows


# -- real processes on the test database ---------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes.
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return True
    return state != "Z"


def leader_pid() -> int | None:
    """The pid of the process holding an unexpired lease, if any."""
    lease = SchedulerLease.objects.filter(expires_at__gt=timezone.now()).exclude(owner="").first()
    return lease.pid if lease else None


def process_environment(lease_ttl: float) -> dict[str, str]:
    """Environment for a child process that uses the current test database."""
    name = str(connection.settings_dict["NAME"])
    if connection.vendor == "sqlite":
        name = os.path.abspath(name)
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.process_settings",
        "HOUSEKEEPING_PROCESS_DB_NAME": name,
        "HOUSEKEEPING_PROCESS_LEASE_TTL": str(lease_ttl),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }


class Processes:
    """The processes one test started; all are stopped (their whole group) at teardown."""

    def __init__(self, env: dict[str, str], log_dir: Path) -> None:
        self.env = env
        self.log_dir = log_dir
        self.started: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.started[name] = process
        return process

    def django(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        return self.start(name, "-m", "django", *args)

    def gunicorn(self, *, workers: int, timeout: int | None = None) -> int:
        """Start gunicorn on the test site and a free port; return the port once it answers.

        Without ``timeout``, gunicorn's own (30 s) applies, as the README recommends.
        """
        port = free_port()
        options = ["--workers", str(workers), "--bind", f"127.0.0.1:{port}"]
        if timeout is not None:
            options += ["--timeout", str(timeout)]
        self.start("gunicorn", "-m", "gunicorn", "tests.wsgi:application", *options)

        def answers() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/whoami/", timeout=5):
                    return True
            except OSError:
                return False

        wait_for(answers, 60, "gunicorn to answer")
        return port

    def stop(self, name: str, timeout: float = 20) -> int:
        """SIGTERM (after SIGCONT) the process group and wait; SIGKILL if it does not exit."""
        process = self.started[name]
        if process.poll() is None:
            for sig in (signal.SIGCONT, signal.SIGTERM):
                try:
                    os.killpg(process.pid, sig)
                except ProcessLookupError:
                    break
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout)
        return process.returncode

    def stop_all(self) -> None:
        for name in self.started:
            self.stop(name)

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}"
            for path in sorted(self.log_dir.glob("*.log"))
        )


def check_generated_docs(script: str) -> subprocess.CompletedProcess[str]:
    """``scripts/SCRIPT --check`` (a generator of a docs page: settings-docs, checks-docs,
    api-docs) in a new process, warnings as errors, without the tests' settings module (the
    script chooses its own)."""
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    return subprocess.run(
        [sys.executable, "-W", "error", str(ROOT / "scripts" / script), "--check"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


# -- what the package keeps per process -----------------------------------------------------------


def forget_closed_rollup_days() -> None:
    """Drop the closed days' sums this process keeps (a rolled-back test database may count the
    same generation again with other rows)."""
    rollup._remembered.clear()


def current_service() -> Any:
    """This process's autostarted scheduler service, or ``None``."""
    return autostart._service if autostart._service_pid == os.getpid() else None


# -- what only the tests read of results --------------------------------------------------------


def summarize_result(result: Any) -> str:
    """One line for a person: per-model counts for a purge, the reason a run was skipped or
    missed, a group's members, a statistics task's numbers, compact JSON for anything else."""
    summary: str = read_result(result)["summary"]
    return summary


def nearest_rank(values: list[float], percent: float) -> float | None:
    """The ``percent`` percentile of the sorted ``values`` by the nearest-rank method: the value
    at rank ``ceil(percent / 100 * n)``, 1-based; ``None`` for no values."""
    if not values:
        return None
    rank = max(math.ceil(percent / 100 * len(values)), 1)
    return values[rank - 1]

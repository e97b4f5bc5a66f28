"""Real OS processes for the scheduler tests: start them on the test database, wait on
conditions with timeouts, stop them, and read their logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import TypeVar

from django.db import connection

from django_housekeeping.models import SchedulerLease
from tests.waiting import free_port, wait_for  # noqa: F401  (re-exported for the process tests)

ROOT = Path(__file__).resolve().parent.parent
T = TypeVar("T")


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
    from django.utils import timezone

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

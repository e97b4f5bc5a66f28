"""A rolling deploy from the previous release (0.1.0, the repository's own commit 1d8f82a) with real
processes of both releases on one database (docs/deployment.md#upgrading).

The previous release is taken from this repository (``git archive``) and run from its own tree:
``PYTHONPATH=<old tree>/src:<old tree>`` and its tree as the working directory put its package and
its ``tests`` package first on ``sys.path``, ahead of the installed (current) package; the
dependencies are this environment's. Both releases load ``tests/upgradeapp`` (copied into the old
tree), whose tasks use only the public API they share.

The old release migrates a new database and writes history (succeeded, failed, a run killed with
SIGKILL that a later run superseded), job rows (its scheduler) and a pre-manifest archive (a purge).
The current code migrates it; then

(a) the old release's ``housekeeping run`` and scheduler still record every run and slot,
(b) the current scheduler restores the old job rows with no ERROR (and the old one the current
    one's), and the status API reads them,
(c) the metrics' totals equal the history,
(d) the old archive restores with ``--force``,
(e) no alert is raised.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.utils import ConnectionHandler
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers import Processes, process_environment, wait_for

PREVIOUS_RELEASE = "1d8f82a"  # 0.1.0
ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "tests" / "upgradeapp"
SCHEDULED = ("beat", "nightly", "record", "threads")  # the jobs both releases plan
TIMEOUT = 120

pytestmark = [
    pytest.mark.processes,
    pytest.mark.django_db(transaction=True),
]


# -- the previous release's tree, the database, the processes ------------------------------------


def previous_release(into: Path) -> Path:
    """The previous release's tree, from this repository's history (not a shallow clone's)."""
    found = subprocess.run(
        ["git", "-C", str(ROOT), "cat-file", "-e", f"{PREVIOUS_RELEASE}^{{commit}}"],
        capture_output=True,
        check=False,
    )
    if found.returncode != 0:
        pytest.fail(
            f"the previous release's commit {PREVIOUS_RELEASE} (0.1.0) is not in the repository at "
            f"{ROOT}: the upgrade test needs the full history (a shallow clone lacks it: "
            "`git fetch --unshallow`)",
            pytrace=False,
        )
    archive = into / "previous.tar"
    with archive.open("wb") as out:
        subprocess.run(
            ["git", "-C", str(ROOT), "archive", PREVIOUS_RELEASE, "src", "tests"],
            stdout=out,
            check=True,
        )
    tree = into / "previous"
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):  # Python 3.11.4+: say that it is plain data
            tar.extractall(tree, filter="data")
        else:
            tar.extractall(tree)
    shutil.copytree(APP, tree / "tests" / "upgradeapp")
    return tree


class ProcessesIn(Processes):
    """Processes started in ``cwd`` (the previous release's tree, for its ``tests`` package)."""

    def __init__(self, env: dict[str, str], log_dir: Path, cwd: Path) -> None:
        super().__init__(env, log_dir)
        self.cwd = cwd

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = (self.log_dir / f"{name}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=self.cwd,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.started[name] = process
        return process

    def call(
        self, *args: str, extra: dict[str, str] | None = None, module: str = "django"
    ) -> subprocess.CompletedProcess[str]:
        """``python -m MODULE ARGS`` to the end (stdout and stderr captured)."""
        return subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=self.cwd,
            env={**self.env, **(extra or {})},
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def must(self, *args: str, extra: dict[str, str] | None = None, module: str = "django") -> str:
        done = self.call(*args, extra=extra, module=module)
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stdout}{done.stderr}"
        return done.stdout


@pytest.fixture
def upgrade_db(tmp_path: Path) -> Iterator[tuple[str, BaseDatabaseWrapper]]:
    """A database of its own on the test database's server (the test database is migrated to
    the current code already): its name, and a connection to it for raw SQL, which reads it
    whatever its schema."""
    settings = dict(connection.settings_dict)
    if connection.vendor == "sqlite":
        name = str(tmp_path / "upgrade.sqlite3")
    else:
        name = f"{settings['NAME']}_upgrade"
        with connection.cursor() as cursor:
            quoted = connection.ops.quote_name(name)
            cursor.execute(f"DROP DATABASE IF EXISTS {quoted}")
            extra = " CHARACTER SET utf8mb4" if connection.vendor == "mysql" else ""
            cursor.execute(f"CREATE DATABASE {quoted}{extra}")
    # A connection outside django.db.connections (which the test case flushes and checks):
    # ConnectionHandler is what django.db.connections is, here on the upgrade database alone.
    handler = ConnectionHandler({"default": {**settings, "NAME": name}})
    raw = handler["default"]
    try:
        yield name, raw
    finally:
        raw.close()
        if connection.vendor != "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"DROP DATABASE IF EXISTS {connection.ops.quote_name(name)}")


def rows(raw: BaseDatabaseWrapper, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with raw.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def scalar(raw: BaseDatabaseWrapper, sql: str, *params: Any) -> Any:
    ((value,),) = rows(raw, sql, *params)
    return value


def runs_of(raw: BaseDatabaseWrapper, task: str, status: str | None = None) -> int:
    sql = "SELECT COUNT(*) FROM django_housekeeping_taskrun WHERE task_name = %s AND dry_run = %s"
    if status is None:
        return int(scalar(raw, sql, task, False))
    return int(scalar(raw, sql + " AND status = %s", task, False, status))


def beat_slots(raw: BaseDatabaseWrapper) -> list[datetime]:
    trigger = raw.ops.quote_name("trigger")  # a reserved word in MySQL
    found = rows(
        raw,
        f"SELECT slot FROM django_housekeeping_taskrun WHERE task_name = %s AND {trigger} = %s "
        "ORDER BY slot",
        "beat",
        "schedule",
    )
    # SQLite's cursor gives the text Django stored.
    return [datetime.fromisoformat(slot) if isinstance(slot, str) else slot for (slot,) in found]


def lead_until(processes: ProcessesIn, raw: BaseDatabaseWrapper, name: str, more_beats: int) -> str:
    """Start a scheduler, wait until it leads and ``beat`` has ``more_beats`` more scheduled runs,
    stop it (SIGTERM: it hands the lease back), and return its log."""
    before = len(beat_slots(raw))
    process = processes.django(name, "housekeeping", "scheduler")
    wait_for(
        lambda: len(beat_slots(raw)) >= before + more_beats or process.poll() is not None,
        TIMEOUT,
        f"{name} to record {more_beats} slots of beat",
        interval=0.2,
    )
    assert process.poll() is None, processes.logs()
    assert processes.stop(name) == 0, processes.logs()
    return (processes.log_dir / f"{name}.log").read_text(errors="replace")


def assert_clean(log: str, who: str) -> None:
    """No ERROR line, no traceback: every job row restored."""
    problems = [
        line
        for line in log.splitlines()
        if " ERROR " in line or "Traceback" in line or "Unable to restore" in line
    ]
    assert problems == [], f"{who}:\n{log}"


def samples(metrics_text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics_text)
        for sample in family.samples
    }


def assert_totals_are_the_history(raw: BaseDatabaseWrapper, probe: dict[str, Any]) -> None:
    history = rows(
        raw,
        "SELECT task_name, status, COUNT(*) FROM django_housekeeping_taskrun "
        "WHERE dry_run = %s AND status NOT IN ('queued', 'running') GROUP BY task_name, status",
        False,
    )
    exposed = samples(probe["metrics"])
    counted = {
        (dict(labels)["task"], dict(labels)["status"]): value
        for (name, labels), value in exposed.items()
        if name == "housekeeping_runs_total"
    }
    expected = {(task, status): float(count) for task, status, count in history}
    assert {key: counted.get(key, 0.0) for key in expected} == expected
    assert sum(counted.values()) == sum(expected.values())
    last_success = {
        dict(labels)["task"]
        for (name, labels), _value in exposed.items()
        if name == "housekeeping_last_success_timestamp_seconds"
    }
    assert last_success >= {task for task, status in expected if status == "succeeded"}


# -- the test ------------------------------------------------------------------------------------


@pytest.mark.timeout(900)
def test_a_rolling_deploy_from_0_1_0_loses_no_slot(
    tmp_path: Path, upgrade_db: tuple[str, BaseDatabaseWrapper]
) -> None:
    name, raw = upgrade_db
    archives = tmp_path / "archives"
    archives.mkdir()
    old_tree = previous_release(tmp_path)
    base = {
        # The previous release's processes are not measured (its files are no source of ours).
        **{
            key: value
            for key, value in process_environment(lease_ttl=3.0).items()
            if not key.startswith("COVERAGE_")
        },
        "HOUSEKEEPING_PROCESS_DB_NAME": name,
        "HOUSEKEEPING_UPGRADE_ARCHIVES": str(archives),
    }
    pythonpath = os.environ.get("PYTHONPATH", "")
    old_env = {
        **base,
        "DJANGO_SETTINGS_MODULE": "tests.upgradeapp.old_settings",
        # Its package and its tests first: ahead of the current package, installed or not.
        "PYTHONPATH": os.pathsep.join(
            entry
            for entry in [str(old_tree / "src"), str(old_tree), pythonpath]
            if entry and Path(entry).resolve() != (ROOT / "src").resolve()
        ),
    }
    new_env = {**base, "DJANGO_SETTINGS_MODULE": "tests.upgradeapp.settings"}
    (tmp_path / "old-logs").mkdir()
    (tmp_path / "new-logs").mkdir()
    old = ProcessesIn(old_env, tmp_path / "old-logs", old_tree)
    new = ProcessesIn(new_env, tmp_path / "new-logs", ROOT)
    try:
        assert "0.1.0" in old.must(
            "shell", "-c", "import django_housekeeping; print(django_housekeeping.__version__)"
        )

        # -- 0.1.0 alone: its schema, history, a killed run, an archive, its job rows --------
        old.must("migrate", "--noinput")
        old.must(
            "shell",
            "-c",
            "from datetime import timedelta\n"
            "from django.utils import timezone\n"
            "from tests.testapp.models import Post, Thread\n"
            "for n in range(3):\n"
            "    t = Thread.objects.create(title=f'old {n}',"
            " created_at=timezone.now() - timedelta(days=40 + n))\n"
            "    Post.objects.create(thread=t, body=f'post {n}')\n",
        )
        old.must("housekeeping", "run", "threads")
        (archive,) = archives.iterdir()
        assert rows(raw, "SELECT COUNT(*) FROM testapp_thread") == [(0,)]
        assert old.call("housekeeping", "run", "boom").returncode != 0

        started = tmp_path / "nap-started"
        old.env = {**old_env, "UPGRADE_NAP_STARTED": str(started), "UPGRADE_NAP_SECONDS": "600"}
        napping = old.django("nap-killed", "housekeeping", "run", "nap")
        old.env = old_env
        wait_for(started.exists, TIMEOUT, "the nap to start")
        os.killpg(napping.pid, signal.SIGKILL)
        napping.wait(TIMEOUT)
        assert runs_of(raw, "nap", "running") == 1
        # A later run succeeds (0.1.0 lets it start once the killed one's timeout passed).
        wait_for(
            lambda: (
                old.call("housekeeping", "run", "nap").returncode == 0
                and runs_of(raw, "nap", "succeeded") == 1
            ),
            TIMEOUT,
            "a later nap to succeed",
            interval=0.5,
        )

        log = lead_until(old, raw, "old-scheduler-before", more_beats=3)
        assert_clean(log, "0.1.0's scheduler before the migration")
        job_ids = {job_id for (job_id,) in rows(raw, "SELECT id FROM django_apscheduler_djangojob")}
        assert job_ids == set(SCHEDULED)

        # -- the current code migrates; 0.1.0 still runs and schedules ------------------------
        new.must("migrate", "--noinput")
        configured = new.call("housekeeping", "check", "--config")
        assert configured.returncode == 0, configured.stdout + configured.stderr
        probe = json.loads(new.must(module="tests.upgradeapp.probe"))
        assert_totals_are_the_history(raw, probe)  # (c): the migration filled the totals

        record_runs = runs_of(raw, "record")
        old.must("housekeeping", "run", "record")  # (a): 0.1.0's insert, without `attempt`
        assert runs_of(raw, "record", "succeeded") == record_runs + 1
        assert rows(
            raw,
            "SELECT attempt FROM django_housekeeping_taskrun WHERE task_name = %s ORDER BY id DESC",
            "record",
        )[0] == (1,)
        log = lead_until(old, raw, "old-scheduler-after", more_beats=3)
        assert_clean(log, "0.1.0's scheduler after the migration")

        # -- the current scheduler takes over: the old job rows as they are -------------------
        log = lead_until(new, raw, "new-scheduler", more_beats=3)
        assert_clean(log, "the current scheduler on 0.1.0's job rows")
        rescheduled = [line for line in log.splitlines() if " Scheduled " in line]
        assert not [
            line for line in rescheduled if line.split(" Scheduled ")[1].split(":")[0] in SCHEDULED
        ], log
        # The run the killed process left is marked interrupted, and alerts nobody: a later
        # run had succeeded before the upgrade (e).
        assert runs_of(raw, "nap", "interrupted") == 1
        assert "Alert:" not in log

        probe = json.loads(new.must(module="tests.upgradeapp.probe"))
        assert probe["status_code"] == 200, probe
        jobs = {job["id"]: job for job in probe["status"]["jobs"]}
        for job_id in SCHEDULED:
            assert jobs[job_id]["leader_trigger"] not in (None, "unreadable job state"), jobs
            assert jobs[job_id]["schedule_differs"] is False, jobs

        # -- and back: a 0.1.0 leader on the rows the current one wrote -----------------------
        log = lead_until(old, raw, "old-scheduler-last", more_beats=3)
        assert_clean(log, "0.1.0's scheduler on the current scheduler's job rows")

        # (a): every slot of beat, from the first to the last, once, whoever led.
        slots = beat_slots(raw)
        assert len(slots) == len(set(slots))
        steps = [later - earlier for earlier, later in pairwise(slots)]
        assert steps == [timedelta(seconds=1)] * (len(slots) - 1), slots

        # (c): once the last 0.1.0 process stopped, `rebuild` counts what 0.1.0 recorded.
        new.must("housekeeping", "rebuild")
        probe = json.loads(new.must(module="tests.upgradeapp.probe"))
        assert_totals_are_the_history(raw, probe)

        # (d): the archive 0.1.0 wrote (no manifest) restores with --force, and only with it.
        refused = new.call("housekeeping", "restore", str(archive))
        assert refused.returncode == 1, refused.stdout + refused.stderr
        new.must("housekeeping", "restore", str(archive), "--force")
        assert rows(raw, "SELECT title FROM testapp_thread ORDER BY title") == [
            ("old 0",),
            ("old 1",),
            ("old 2",),
        ]
        assert rows(raw, "SELECT body FROM testapp_post ORDER BY body") == [
            ("post 0",),
            ("post 1",),
            ("post 2",),
        ]

        # (e): no alert at all.
        assert rows(raw, "SELECT task_name, kind FROM django_housekeeping_taskalert") == []
    except BaseException:
        print(old.logs(), new.logs(), sep="\n")
        raise
    finally:
        old.stop_all()
        new.stop_all()

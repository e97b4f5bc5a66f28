"""Cancelling a purge that runs in another process, from every face: the API, the admin, the
dashboard and the command line (marker ``processes``).

The purge (``big_purge`` of tests/proctasks: 50,000 threads and their posts, 100 threads a batch)
runs in a ``housekeeping run`` process; it waits after its first batch until the test lets it go
on, then races the test's cancel. The request reaches the run through the database. A run stops
at its next progress step, and a run whose cancel is stored no longer records its progress: the
progress the run kept is what it had deleted when the request was stored, so "deleted after the
request" is the final count minus it — at most the one batch that was under way.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from django_housekeeping.models import TaskRun
from tests.helpers import (
    API,
    DASHBOARD,
    ROOT,
    SHORT_TEST_KEY,
    Processes,
    client_for,
    make_user,
    process_environment,
    wait_for,
)
from tests.testapp.models import Post, Thread

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.processes,
    pytest.mark.usefixtures("api_settings"),
    SHORT_TEST_KEY,
]

THREADS = 50_000
BATCH = 100  # big_purge's batch_size


@pytest.fixture
def processes(tmp_path: Path):
    environment = process_environment(3.0)
    environment["HOUSEKEEPING_PROCESS_GATE"] = str(tmp_path / "go")
    started = Processes(environment, tmp_path)
    yield started
    started.stop_all()
    print(started.logs())  # shown by pytest when the test failed


def seed() -> None:
    old = timezone.now() - timedelta(days=40)
    threads = Thread.objects.bulk_create(
        [Thread(title=f"old-{i}", created_at=old) for i in range(THREADS)]
        + [Thread(title=f"young-{i}", created_at=timezone.now()) for i in range(3)],
        batch_size=5000,
    )
    Post.objects.bulk_create((Post(thread=thread) for thread in threads), batch_size=5000)


def cancel_through(face: str, run: TaskRun, processes: Processes) -> None:
    """Ask to cancel ``run`` through ``face``, as an operator holding ``run_task``."""
    operator = make_user(f"op-{face}", staff=True, permissions=["view_taskrun", "run_task"])
    if face == "api":
        response = client_for(operator).post(f"{API}runs/{run.pk}/cancel")
        assert response.status_code == 202, response.content
    elif face == "admin":
        client = Client()
        client.force_login(operator)
        url = f"/admin/django_housekeeping/taskrun/{run.pk}/cancel/"
        assert client.post(url, {"post": "yes"}).status_code == 302
    elif face == "dashboard":
        client = Client()
        client.force_login(operator)
        response = client.post(f"{DASHBOARD}runs/{run.pk}/cancel/")
        assert response.status_code == 202, response.content
    else:
        done = subprocess.run(
            [sys.executable, "-m", "django", "housekeeping", "cancel", str(run.pk)],
            cwd=ROOT,
            env=processes.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip().startswith(f"Asked run #{run.pk} of big_purge to stop")
        assert len(done.stdout.strip().splitlines()) == 1


def orphans() -> int:
    """Posts whose thread is gone (no foreign key constraint would tell on SQLite)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM {Post._meta.db_table} p LEFT JOIN {Thread._meta.db_table} t "
            "ON p.thread_id = t.id WHERE t.id IS NULL"
        )
        (count,) = cursor.fetchone()
    return int(count)


@pytest.mark.parametrize("face", ["api", "admin", "dashboard", "cli"])
def test_a_running_purge_is_cancelled_from_every_face(face: str, processes: Processes) -> None:
    seed()
    processes.django("purge", "housekeeping", "run", "big_purge", "--force")
    run = wait_for(
        lambda: TaskRun.objects.filter(
            task_name="big_purge", status="running", progress_done__gte=BATCH
        ).first(),
        60,
        "the purge to commit its first batch",
    )

    Path(processes.env["HOUSEKEEPING_PROCESS_GATE"]).touch()  # the purge goes on: race it
    cancel_through(face, run, processes)

    assert processes.started["purge"].wait(60) == 0, processes.logs()
    run.refresh_from_db()
    assert run.status == TaskRun.Status.CANCELLED
    assert run.cancel_via == ("cli" if face == "cli" else face)
    assert run.cancelled_by is None if face == "cli" else run.cancelled_by.username == f"op-{face}"
    deleted: dict[str, Any] = run.result["deleted"]
    gone = THREADS - Thread.objects.filter(title__startswith="old-").count()
    assert deleted == {"testapp.Post": gone, "testapp.Thread": gone}
    assert 0 < gone < THREADS
    assert Post.objects.count() == Thread.objects.count()
    assert orphans() == 0
    # Stopped within one batch of the request: what it had deleted when the request was stored
    # (the progress it kept) and what it deleted in the end differ by the batch under way.
    assert run.progress_done is not None
    assert 0 <= gone - run.progress_done <= BATCH
    # The next scheduled slot runs normally (in another process), and finishes the job.
    slot = subprocess.run(
        [sys.executable, "-m", "django", "shell", "-c", NEXT_SLOT],
        cwd=ROOT,
        env=processes.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert slot.returncode == 0, slot.stderr
    following = TaskRun.objects.get(task_name="big_purge", trigger="schedule")
    assert following.status == TaskRun.Status.SUCCEEDED, following.error
    assert following.result["deleted"]["testapp.Thread"] == THREADS - gone
    assert Thread.objects.count() == 3
    assert orphans() == 0


NEXT_SLOT = (
    "from django.utils import timezone; from django_housekeeping.running.runner import run_task; "
    "run_task('big_purge', trigger='schedule', slot=timezone.now())"
)

"""The README's first command, ``scripts/demo``, on a fresh copy of the repository: it sets the
site up, prints an admin login that works, and serves with the scheduler running."""

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.example.project import ROOT, vendor
from tests.helpers import free_port, is_alive, wait_for


def start_demo(clone: Path, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``scripts/demo`` in the clone, in a session of its own, its output in ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            ["bash", "scripts/demo"],
            cwd=clone,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def fresh_copy(destination: Path) -> None:
    """The files a clone of this working tree has: tracked and new ones, none that git ignores."""
    try:
        listing = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
    except (OSError, subprocess.CalledProcessError):  # no git: copy, leaving out what it ignores
        shutil.copytree(
            ROOT,
            destination,
            ignore=shutil.ignore_patterns(
                ".git", ".venv", ".tox", "build", "var", "__pycache__", ".*_cache", "*.sqlite3*"
            ),
        )
        return
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is listed too
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def demo_environment(database_url: str | None, port: int) -> dict[str, str]:
    venv = Path(sys.prefix)
    assert (venv / "bin" / "python").exists(), "the tests run in a virtualenv"
    env = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DJANGO_SETTINGS_MODULE",
            "DATABASE_URL",
            "HOUSEKEEPING_TEST_MODE",
            "HOUSEKEEPING_DEMO_WORKER",
        }
    }
    # This virtualenv has every package already: the test needs no network.
    env.update(DEMO_VENV=str(venv), DEMO_INSTALL="0", PORT=str(port), PYTHONUNBUFFERED="1")
    if database_url is not None:
        env["DATABASE_URL"] = database_url
    return env


def request(port, method, path, body=None, token=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        connection.request(method, path, json.dumps(body) if body else None, headers)
        response = connection.getresponse()
        return response.status, response.getheader("Location"), response.read()
    finally:
        connection.close()


def answers(port: int) -> bool:
    try:
        return request(port, "GET", "/admin/login/")[0] == 200
    except OSError:
        return False


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    fresh_copy(tmp_path / "clone")
    return tmp_path / "clone"


def test_demo_sets_up_and_serves_with_the_scheduler(
    clone: Path, tmp_path: Path, fresh_database_url: str
) -> None:
    port = free_port()
    # SQLite: the default database in example_project/var/, as a newcomer gets it.
    env = demo_environment(None if vendor() == "sqlite" else fresh_database_url, port)
    log_path = tmp_path / "demo.log"
    server = start_demo(clone, env, log_path)

    def output() -> str:
        return log_path.read_text(errors="replace")

    def scheduler_info() -> str:
        return subprocess.run(
            [sys.executable, "example_project/manage.py", "scheduler_info"],
            cwd=clone,
            env={**env, "DJANGO_SETTINGS_MODULE": "core.settings"},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout

    try:
        wait_for(
            lambda: answers(port) or (server.poll() is not None and pytest.fail(output())),
            120,
            "the demo server",
        )
        log = output()
        assert re.search(r"\nCreated 200 users \(.*\), 5000 conversations, 50000 messages", log)
        password = re.search(r"\n  username: admin\n  password: (\S+)\n", log)[1]
        assert f"Dashboard:  http://127.0.0.1:{port}/scheduler-admin/\n" in log
        assert f"Login:      admin / {password}  (development only)\n" in log
        assert (clone / "example_project" / "var" / "admin-password").read_text() == f"{password}\n"
        if vendor() == "sqlite":
            assert (clone / "example_project" / "var" / "db.sqlite3").exists()

        # The quick-start's URLs.
        assert request(port, "GET", "/scheduler-admin")[:2] == (301, "/scheduler-admin/")
        assert request(port, "GET", "/scheduler-admin/")[0] in (200, 302)
        status, _, body = request(
            port, "POST", "/api/auth/login", {"username": "admin", "password": password}
        )
        assert status == 200
        tokens = json.loads(body)
        assert sorted(tokens) == ["access", "refresh"]
        status, _, body = request(port, "GET", "/api/auth/me", token=tokens["access"])
        assert (status, json.loads(body)["username"]) == (200, "admin")
        token = tokens["access"]
        assert request(port, "GET", "/api/admin/scheduler/status", token=token)[0] == 200

        # The scheduler started with the server and became the leader.
        def leader_info() -> str | None:
            text = scheduler_info()
            return text if "Scheduler State: running" in text else None

        info = wait_for(leader_info, 60, "a scheduler leader")
        assert "\nTotal Scheduled Jobs: 3\n" in info
        next_runs = re.findall(r"\n  Next Run: (.*)\n", info)
        assert len(next_runs) == 3
        assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\+00:00", run) for run in next_runs)
    except Exception:
        print(f"--- scripts/demo output\n{output()}")  # shown with the failure
        raise
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)

    # Run again: the data and the admin password stay as they are.
    again = subprocess.run(
        ["bash", "scripts/demo", "--no-server"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "Demo data is already there (201 users, 5000 conversations, 50500 messages)" in (
        again.stdout
    )
    assert f"  username: admin\n  password: {password}\n" in again.stdout
    assert "Starting the server" not in again.stdout


def descendants(pid: int) -> dict[int, str]:
    """The processes ``pid`` started (and theirs), with their command lines."""
    processes = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except (OSError, IndexError, ValueError):
            continue
        processes[int(entry.name)] = (parent, command)
    found: dict[int, str] = {}
    parents = {pid}
    while parents:
        children = {
            child: command for child, (parent, command) in processes.items() if parent in parents
        }
        found.update(children)
        parents = set(children)
    return found


def test_demo_with_a_task_worker_runs_a_person_s_run_on_the_worker(
    clone: Path, tmp_path: Path, fresh_database_url: str
) -> None:
    """``HOUSEKEEPING_DEMO_WORKER=1``: a db_worker beside the server executes the run an API call
    starts; stopping the demo stops the worker too."""
    port = free_port()
    env = demo_environment(None if vendor() == "sqlite" else fresh_database_url, port)
    env["HOUSEKEEPING_DEMO_WORKER"] = "1"
    log_path = tmp_path / "demo.log"
    demo = start_demo(clone, env, log_path)

    def output() -> str:
        return log_path.read_text(errors="replace")

    try:
        wait_for(
            lambda: answers(port) or (demo.poll() is not None and pytest.fail(output())),
            120,
            "the demo server",
        )
        password = re.search(r"\n  username: admin\n  password: (\S+)\n", output())[1]
        (worker,) = [
            pid
            for pid, command in descendants(demo.pid).items()
            if "manage.py db_worker" in command
        ]
        _, _, body = request(
            port, "POST", "/api/auth/login", {"username": "admin", "password": password}
        )
        token = json.loads(body)["access"]

        status, _, body = request(
            port, "POST", "/api/admin/scheduler/trigger", {"task": "stats"}, token=token
        )

        assert status == 202, body
        (run,) = json.loads(body)["runs"]

        def finished() -> dict | None:
            answer = json.loads(
                request(port, "GET", f"/api/admin/scheduler/runs/{run['id']}", token=token)[2]
            )
            return answer if answer["status"] not in ("queued", "running") else None

        done = wait_for(finished, 60, "the worker to run it")
        assert (done["status"], done["pid"]) == ("succeeded", worker)
    except Exception:
        print(f"--- scripts/demo output\n{output()}")  # shown with the failure
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
        demo.wait(30)
        raise

    os.kill(demo.pid, signal.SIGTERM)  # the script only: it stops the server and the worker
    assert demo.wait(30) == 143, output()
    wait_for(lambda: not is_alive(worker), 10, "the worker to stop")
    assert "Starting a task worker (db_worker)" in output()

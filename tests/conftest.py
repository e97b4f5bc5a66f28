import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db import connection
from django.test import Client

from django_housekeeping import registry
from django_housekeeping.running.runner import wait_for_dispatched_runs
from tests.db_split import SENSITIVE_MARKERS, is_db_sensitive
from tests.helpers import JWT_AND_SESSION, forget_closed_rollup_days

REPO_ROOT = Path(__file__).resolve().parent.parent
Manage = Callable[..., "subprocess.CompletedProcess[str]"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests of the modules ``tests/db_split.py`` lists, and those of real processes or
    databases, are marked ``db_sensitive`` (``-m`` selects by it: this hook runs before pytest's
    own). A test marked ``databases("postgres", "mysql")`` belongs to those test databases only:
    on the others it is deselected (not collected as skipped: no database skips a test)."""
    here = os.environ.get("HOUSEKEEPING_TEST_DB", "sqlite")
    selected, deselected = [], []
    for item in items:
        if is_db_sensitive(item.path) or any(
            item.get_closest_marker(name) for name in SENSITIVE_MARKERS
        ):
            item.add_marker(pytest.mark.db_sensitive)
        marker = item.get_closest_marker("databases")
        (deselected if marker is not None and here not in marker.args else selected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.fixture(autouse=True)
def closed_rollup_days_forgotten() -> None:
    """No test reads the closed days' sums an earlier test's (rolled back) rows gave."""
    forget_closed_rollup_days()


@pytest.fixture
def temporary_tasks() -> Iterator[None]:
    """Every task registered while the test runs is unregistered after it."""
    before = set(registry.as_mapping())
    yield
    for name in set(registry.as_mapping()) - before:
        registry.unregister(name)


@pytest.fixture
def staff_client(django_user_model: Any) -> Callable[..., tuple[Client, Any]]:
    """``make(*codenames)``: a logged-in client for a staff user with those permissions of this
    app (e.g. ``"run_task"``, ``"change_taskstate"``)."""

    def make(*perms: str) -> tuple[Client, Any]:
        user = django_user_model.objects.create_user(
            username=f"staff_{'_'.join(perms) or 'none'}", password=None, is_staff=True
        )
        user.user_permissions.set(
            Permission.objects.filter(
                content_type__app_label="django_housekeeping", codename__in=perms
            )
        )
        client = Client()
        client.force_login(user)
        return client, user

    return make


@pytest.fixture
def manage(tmp_path: Path) -> Manage:
    """``manage(*args)``: ``python -m django housekeeping ARGS`` in a new process, on the test
    database; the completed process (``stdout``, ``stderr``, ``returncode``)."""
    name = settings.DATABASES["default"]["NAME"]
    if connection.vendor == "sqlite":
        name = os.path.abspath(name)
    (tmp_path / "housekeeping_subprocess_settings.py").write_text(
        "from tests.settings import *  # noqa: F403\n\n"
        f'DATABASES["default"]["NAME"] = {name!r}  # noqa: F405\n'
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "housekeeping_subprocess_settings",
        "PYTHONPATH": os.pathsep.join(
            [str(tmp_path), str(REPO_ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
        ),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "django", "housekeeping", *args],
            cwd=REPO_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


@pytest.fixture
def api_settings(settings: Any) -> Iterator[Any]:
    """JWT and session authentication, as in the example project, and no throttle history."""
    settings.REST_FRAMEWORK = JWT_AND_SESSION
    cache.clear()
    yield settings
    cache.clear()


@pytest.fixture
def runs_finish() -> Iterator[None]:
    """The runs a test started in background threads have finished when it ends."""
    yield
    assert wait_for_dispatched_runs(timeout=60), "a dispatched run did not finish in 60 s"

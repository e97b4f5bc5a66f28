"""Helpers of the API, dashboard and browser tests: users, clients with a JWT, settings."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.hashers import make_password
from django.contrib.auth.models import Permission, User
from django.core.cache import cache
from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from django_housekeeping.lease import LEASE_NAME
from django_housekeeping.models import SchedulerLease, TaskRun
from django_housekeeping.runner import wait_for_dispatched_runs

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


def make_run(task_name: str, *, age: timedelta = timedelta(0), **fields: Any) -> TaskRun:
    """A run row written directly (no task executes), started ``age`` ago; a queued or running one
    holds its task's active-run claim."""
    started = timezone.now() - age
    defaults: dict[str, Any] = {
        "trigger": TaskRun.Trigger.SCHEDULE,
        "status": TaskRun.Status.SUCCEEDED,
        "started_at": started,
        "heartbeat_at": started,
    }
    defaults.update(fields)
    if defaults["status"] in TaskRun.ACTIVE_STATUSES:
        defaults.setdefault("active_task", task_name)  # it holds its task's claim, as a live run
    else:
        defaults.setdefault("finished_at", started + timedelta(seconds=2))
        defaults.setdefault("duration", defaults["finished_at"] - started)
    return TaskRun.objects.create(task_name=task_name, **defaults)


def make_lease(*, heartbeat_age: float = 2, expires_in: float = 28) -> SchedulerLease:
    now = timezone.now()
    return SchedulerLease.objects.create(
        name=LEASE_NAME,
        owner="web-1:4242:abc",
        token=3,
        host="web-1",
        pid=4242,
        acquired_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(seconds=heartbeat_age),
        expires_at=now + timedelta(seconds=expires_in),
    )

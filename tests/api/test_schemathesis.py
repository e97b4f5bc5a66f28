"""Schemathesis against the served OpenAPI schema with every check it has (but the response-time
limit: speed is measured in benchmarks/), as an admin and as a user without any housekeeping
permission: no 5xx, every response conforms to the schema (status code, content type, headers,
body), what the schema allows is accepted and what it does not is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from django.utils import timezone
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from rest_framework_simplejwt.tokens import RefreshToken
from schemathesis.checks import CHECKS as CHECK_REGISTRY
from schemathesis.checks import load_all_checks, max_response_time
from schemathesis.generation import GenerationMode

# Imported here, at collection, rather than by schemathesis's object-level authorization check on
# its first call: that lazy import, deep in Hypothesis's stack, is parsed by pytest's assertion
# rewriter and now and then failed on CPython 3.11 with "SystemError: AST constructor recursion
# depth mismatch".
from schemathesis.specs.openapi import object_authorization  # noqa: F401

from django_housekeeping import housekeeping_task, retention
from django_housekeeping.models import TaskRun
from tests.helpers import (
    API,
    SHORT_TEST_KEY,
    make_lease,
    make_run,
    make_user,
)
from tests.testapp.models import Chat

pytestmark = [SHORT_TEST_KEY]

load_all_checks()
CHECKS = [check for check in CHECK_REGISTRY.get_all() if check is not max_response_time]


@pytest.fixture
def site(
    request: pytest.FixtureRequest, transactional_db: None, settings: Any, temporary_tasks: None
) -> None:
    """A site with history: runs of every kind, statistics, a leader."""
    request.getfixturevalue("api_settings")
    settings.ALLOWED_HOSTS = ["localhost", "testserver"]  # schemathesis calls the app "localhost"
    # Throttling is tested apart; the statistics task is named as in the example project.
    settings.HOUSEKEEPING = {"TRIGGER_THROTTLE_RATE": None, "STATISTICS_TASK": "stats"}

    @housekeeping_task(name="stats")
    def stats() -> dict[str, int]:
        return {"total_users": User.objects.count()}

    make_lease()
    for days in range(5):
        make_run("stats", age=timedelta(days=days, hours=1), result={"total_users": 10 - days})
    group = make_run("nightly", result={"tasks": {}, "failed": ["boom"]})
    make_run(
        "threads",
        parent=group,
        result={"deleted": {"testapp.Thread": 2}, "total": 2, "dry_run": False},
    )
    make_run("boom", parent=group, status=TaskRun.Status.FAILED, error="Traceback\nboom")
    make_run("record", status=TaskRun.Status.RUNNING, progress_done=5, progress_total=10)
    # A retention policy with rows due, a real run and a preview (a dry run).
    retention(Chat, field="updated_at", keep=30, keep_by="plan", keep_for={"pro": 365})
    Chat.objects.create(title="old", updated_at=timezone.now() - timedelta(days=40))
    make_run(
        "testapp.chat_retention",
        age=timedelta(days=1),
        result={"deleted": {"testapp.Chat": 1}, "total": 1, "dry_run": False, "cutoffs": []},
    )
    make_run(
        "testapp.chat_retention",
        dry_run=True,
        result={"deleted": {"testapp.Chat": 1, "testapp.ChatLine": 2}, "total": 3, "dry_run": True},
    )


@pytest.fixture(params=["admin", "unprivileged"])
def token(request: pytest.FixtureRequest, admin_token: str) -> str:
    """The JWT of an admin, or of a staff user with no housekeeping permission."""
    if request.param == "admin":
        return admin_token
    return str(RefreshToken.for_user(make_user("visitor", staff=True)).access_token)


@pytest.fixture
def admin_token(site: None) -> str:
    return str(RefreshToken.for_user(make_user("admin", superuser=True)).access_token)


OPERATIONS = [
    ("GET", "status"),
    ("POST", "trigger"),
    ("GET", "statistics"),
    ("GET", "runs"),
    ("GET", "runs/{id}"),
    ("GET", "tasks"),
    ("POST", "runs/{id}/cancel"),
    ("POST", "tasks/{name}/pause"),
    ("POST", "tasks/{name}/resume"),
    ("GET", "policies"),
    ("GET", "erasures"),
    ("POST", "erasures"),
]


@pytest.mark.parametrize("mode", list(GenerationMode), ids=lambda mode: mode.value)
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
@pytest.mark.usefixtures("runs_finish")
def test_the_api_conforms_to_its_schema(
    token: str, admin_token: str, method: str, path: str, mode: GenerationMode
) -> None:
    auth = {"Authorization": f"Bearer {token}"}
    # The schema as an admin reads it (the unprivileged may not); the requests as ``token``'s user.
    schema = schemathesis.openapi.from_wsgi(
        API + "schema", get_wsgi_application(), headers={"Authorization": f"Bearer {admin_token}"}
    )
    operation = schema[API + path][method]

    @hypothesis_settings(
        max_examples=20,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        case.call_and_validate(headers=auth, checks=CHECKS)

    check()


def test_the_served_schema_covers_every_operation(admin_token: str) -> None:
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {admin_token}")
    served = client.get(API + "schema").json()

    operations = {
        (path.removeprefix(API.rstrip("/")), method)
        for path, methods in served["paths"].items()
        for method in methods
    }
    assert operations == {
        ("/", "get"),
        ("/status", "get"),
        ("/trigger", "post"),
        ("/statistics", "get"),
        ("/runs", "get"),
        ("/runs/{id}", "get"),
        ("/runs/{id}/cancel", "post"),
        ("/tasks", "get"),
        ("/tasks/{name}/pause", "post"),
        ("/tasks/{name}/resume", "post"),
        ("/policies", "get"),
        ("/erasures", "get"),
        ("/erasures", "post"),
    }
    assert served["openapi"] == "3.0.3"
    assert set(served["components"]["securitySchemes"]) == {"jwtAuth", "cookieAuth"}

"""Bad input never crashes: nested, huge and malformed bodies, unknown URLs and wrong methods get
a JSON 400/404/405/413 with a message on every web face; the command line bounds its numbers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.test import Client

from django_housekeeping.bodies import MAX_BODY_BYTES, MAX_DEPTH
from django_housekeeping.models import TaskRun
from tests.helpers import API, DASHBOARD, SHORT_TEST_KEY, housekeeping, make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("api_settings"), SHORT_TEST_KEY]


@dataclass(frozen=True)
class Face:
    name: str
    trigger: str
    prefix: str


FACES = [
    Face("api", API + "trigger", API),
    Face("dashboard", DASHBOARD + "trigger/", DASHBOARD),
]


@pytest.fixture
def client() -> Client:
    client = Client()
    client.force_login(make_user("root", superuser=True))
    return client


def nested(depth: int) -> bytes:
    return b'{"task": ' + b"[" * depth + b"]" * depth + b"}"


BODIES: dict[str, tuple[Callable[[], bytes], int, str]] = {
    "nested 1,000 levels": (lambda: nested(1000), 400, "The body is nested too deeply"),
    "nested one level too deep": (
        lambda: nested(MAX_DEPTH),
        400,
        "The body is nested too deeply",
    ),
    "10 MB": (lambda: b'{"task": "' + b"x" * 10_000_000 + b'"}', 413, "The body is too large"),
    "one byte over the limit": (
        lambda: b'{"task": "' + b"x" * (MAX_BODY_BYTES - 11) + b'"}',
        413,
        "The body is too large",
    ),
    "not JSON": (lambda: b"{task: record", 400, "The body must be a JSON object:"),
    "not UTF-8": (lambda: b'{"task": "\xff"}', 400, "The body must be a JSON object:"),
    "a JSON array": (lambda: b'["record"]', 400, "The body must be a JSON object."),
    "a JSON string": (lambda: b'"record"', 400, "The body must be a JSON object."),
    "NaN": (lambda: b'{"task": NaN}', 400, "Say which task to run"),
    "a null byte in a name": (lambda: b'{"task": "rec\\u0000ord"}', 400, "Unknown task"),
}


@pytest.mark.parametrize("body", BODIES)
@pytest.mark.parametrize("face", FACES, ids=lambda face: face.name)
def test_a_bad_body_is_a_json_error(client: Client, face: Face, body: str) -> None:
    data, status, message = BODIES[body]

    response = client.post(face.trigger, data(), content_type="application/json")

    assert response.status_code == status, response.content[:200]
    assert response["Content-Type"] == "application/json"
    detail = response.json()["detail"]
    assert detail.startswith((message, f"task: {message}")), detail
    assert not TaskRun.objects.exists()


def test_the_deepest_accepted_body_is_parsed(client: Client) -> None:
    response = client.post(API + "trigger", nested(MAX_DEPTH - 1), content_type="application/json")

    assert response.status_code == 400
    assert response.json()["detail"].startswith("task: Say which task to run")


@pytest.mark.parametrize(
    "path",
    ["nothing/here", "runs/-1", "runs/1.5", "runs/99999999999999999999999", "runs/%00", "x" * 3000],
)
@pytest.mark.parametrize("face", FACES, ids=lambda face: face.name)
def test_an_unknown_url_is_a_json_404(client: Client, face: Face, path: str) -> None:
    if face.name == "dashboard" and path.startswith("runs/"):
        path += "/"

    response = client.get(face.prefix + path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert "detail" in response.json()


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "trigger/"), ("put", "data/"), ("delete", "runs/1/"), ("post", "")],
)
def test_a_wrong_method_on_the_dashboard_is_a_json_405(
    client: Client, method: str, path: str
) -> None:
    response = getattr(client, method)(DASHBOARD + path)

    assert response.status_code == 405
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"] == f"Method {method.upper()} is not allowed here."


@pytest.mark.parametrize("query", ["trigger=", "status=", "task=", "since="])
def test_an_empty_filter_is_refused(client: Client, query: str) -> None:
    response = client.get(f"{API}runs?{query}")

    assert response.status_code == 400
    name = query.rstrip("=")
    assert response.json()["errors"] == {name: ["This parameter may not be empty."]}


def test_an_empty_statistics_task_is_refused(client: Client) -> None:
    response = client.get(f"{API}statistics?task=")

    assert response.status_code == 400
    assert response.json()["detail"] == "task: This parameter may not be empty."


# -- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize("limit", ["99999999999999999999999", "0", "-5", "10001", str(2**63)])
def test_history_limits_are_bounded(limit: str) -> None:
    refused = housekeeping("history", "--limit", limit)

    assert (refused.returncode, refused.message) == (2, "--limit must be between 1 and 10000")


def test_the_largest_history_limit_works() -> None:
    assert housekeeping("history", "--limit", "10000").returncode == 0


def test_run_without_a_name_is_one_line() -> None:
    refused = housekeeping("run")

    assert (refused.returncode, refused.message) == (2, "name at least one task, or use --all")

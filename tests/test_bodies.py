"""The bounds of the faces' JSON bodies: Python's recursion limit and the faces' depth, Django's
``DATA_UPLOAD_MAX_MEMORY_SIZE`` and the faces' size (every face's answers:
tests/test_bad_input.py)."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings

from django_housekeeping.bodies import MAX_DEPTH, BodyError, parse_json
from django_housekeeping.models import TaskRun
from tests.helpers import DASHBOARD, make_user


def nested(levels: int) -> bytes:
    """An object whose key holds arrays: ``levels`` levels in all."""
    return b'{"task": ' + b"[" * (levels - 1) + b"]" * (levels - 1) + b"}"


def test_a_body_nested_past_the_recursion_limit_is_too_deep() -> None:
    with pytest.raises(BodyError) as refused:
        parse_json(nested(30_000))  # under the size limit, past any recursion limit

    assert (refused.value.status, refused.value.message) == (
        400,
        f"The body is nested too deeply: at most {MAX_DEPTH} levels.",
    )


def test_a_body_of_the_deepest_accepted_nesting_is_parsed() -> None:
    expected: list[object] = []
    for _level in range(MAX_DEPTH - 2):
        expected = [expected]

    assert parse_json(nested(MAX_DEPTH)) == {"task": expected}

    with pytest.raises(BodyError, match="nested too deeply"):
        parse_json(nested(MAX_DEPTH + 1))


def test_nesting_inside_strings_does_not_count() -> None:
    assert parse_json(b'{"task": "' + b"[{" * 100 + b'"}') == {"task": "[{" * 100}


@pytest.mark.django_db
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=20)
def test_djangos_smaller_body_limit_is_honoured() -> None:
    client = Client()
    client.force_login(make_user("root", superuser=True))

    response = client.post(
        DASHBOARD + "trigger/",
        b'{"task": "record", "dry_run": true}',
        content_type="application/json",
    )

    assert response.status_code == 413
    assert response.json()["detail"].startswith("The body is too large")
    assert not TaskRun.objects.exists()

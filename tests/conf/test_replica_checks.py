"""The throttle's settings: E014 (a replica alias that is not a database), E005 for
``REPLICAS``, ``MAX_REPLICA_LAG`` and ``PURGE_PAUSE``, E008 for the purge options ``pause`` and
``max_replica_lag``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import pytest
from django.core.checks import CheckMessage
from django.core.checks.registry import registry as check_registry
from django.test import override_settings

from django_housekeeping.conf.checks import check_replicas, check_settings


def ids(messages: Sequence[CheckMessage]) -> list[str | None]:
    return [message.id for message in messages]


def test_e014_a_replica_that_is_no_database() -> None:
    with override_settings(HOUSEKEEPING={"REPLICAS": ["default", "reporting", "eu"]}):
        errors = check_replicas()

    assert ids(errors) == ["django_housekeeping.E014"] * 2
    assert [error.msg for error in errors] == [
        f"HOUSEKEEPING['REPLICAS'] names {alias!r}, which is not a database alias of DATABASES."
        for alias in ("reporting", "eu")
    ]
    assert check_replicas in check_registry.get_checks()


@pytest.mark.parametrize("housekeeping", [{}, {"REPLICAS": []}, {"REPLICAS": ["default"]}, []])
def test_replicas_that_e014_accepts(housekeeping: Any) -> None:
    with override_settings(HOUSEKEEPING=housekeeping):
        assert check_replicas() == []


@pytest.mark.parametrize(
    ("housekeeping", "message"),
    [
        ({"REPLICAS": "replica"}, "'REPLICAS'] must be a list of database aliases, got 'replica'"),
        ({"REPLICAS": [""]}, "'REPLICAS'] must be a list of database aliases, got ['']"),
        (
            {"MAX_REPLICA_LAG": timedelta(0)},
            "'MAX_REPLICA_LAG'] must be a positive timedelta or number of seconds or None, got "
            "datetime.timedelta(0)",
        ),
        (
            {"MAX_REPLICA_LAG": "2s"},
            "'MAX_REPLICA_LAG'] must be a positive timedelta or number of seconds or None, got "
            "'2s'",
        ),
        ({"PURGE_PAUSE": -1}, "'PURGE_PAUSE'] must be a number of 0 or more, got -1"),
        ({"PURGE_PAUSE": None}, "'PURGE_PAUSE'] must be a number of 0 or more, got None"),
    ],
)
def test_e005_throttle_settings_of_the_wrong_type(housekeeping: Any, message: str) -> None:
    with override_settings(HOUSEKEEPING=housekeeping):
        errors = check_settings()
        assert check_replicas() == []  # E005 says it, once

    assert ids(errors) == ["django_housekeeping.E005"]
    assert message in errors[0].msg


@pytest.mark.parametrize(
    ("purge", "message"),
    [
        ({"pause": -0.5}, "['pause'] must be a number of 0 or more or None, got -0.5"),
        ({"pause": True}, "['pause'] must be a number of 0 or more or None, got True"),
        (
            {"max_replica_lag": -2},
            "['max_replica_lag'] must be a positive timedelta or number of seconds or None, got -2",
        ),
    ],
)
def test_e008_throttle_purge_options(purge: Any, message: str) -> None:
    with override_settings(HOUSEKEEPING={"TASKS": {"threads": {"purge": purge}}}):
        errors = check_settings()

    assert ids(errors) == ["django_housekeeping.E008"]
    assert errors[0].msg.startswith(f"HOUSEKEEPING['TASKS']['threads']['purge'] {message}")


def test_valid_throttle_settings_are_fine() -> None:
    housekeeping = {
        "REPLICAS": ["default"],
        "MAX_REPLICA_LAG": timedelta(seconds=2),
        "PURGE_PAUSE": 0.5,
        "TASKS": {"threads": {"purge": {"pause": 0, "max_replica_lag": 1.5}}},
    }
    with override_settings(HOUSEKEEPING=housekeeping):
        assert check_settings() == []
        assert check_replicas() == []

"""A scheduler started before ``migrate`` (``runserver`` first) says once what to do, then waits
quietly, further and further apart, and goes on once the tables exist."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.core.management import call_command

from django_housekeeping.scheduling.service import (
    TICK_SECONDS,
    UNMIGRATED_MAX_SECONDS,
    SchedulerService,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def unmigrated() -> Iterator[None]:
    """The database without this app's tables (as before ``migrate``); migrated back after."""
    call_command("migrate", "django_housekeeping", "zero", verbosity=0)
    try:
        yield
    finally:
        call_command("migrate", "django_housekeeping", verbosity=0)


def test_one_line_saying_to_migrate_then_quiet_backoff(
    unmigrated: None, caplog: pytest.LogCaptureFixture
) -> None:
    service = SchedulerService()
    waits = []
    with caplog.at_level(logging.INFO, logger="django_housekeeping"):
        for _ in range(8):
            service.tick()
            waits.append(service.unmigrated_wait)

    lines = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert [record.getMessage() for record in lines] == [
        "The housekeeping tables do not exist: run `python manage.py migrate`. The scheduler "
        "waits for them."
    ]
    assert waits[0] == TICK_SECONDS
    assert waits == sorted(waits)
    assert waits[-1] == UNMIGRATED_MAX_SECONDS
    assert not service.is_leader

    call_command("migrate", "django_housekeeping", verbosity=0)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="django_housekeeping"):
        service.tick()
    try:
        assert service.unmigrated_wait == 0.0
        assert service.is_leader
        assert "The housekeeping tables exist now: the scheduler goes on" in caplog.messages
    finally:
        service._stand_by()  # what run_forever does on its way out
        service.lease.release()

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from django_housekeeping import registry
from django_housekeeping.registry import HousekeepingTask


@pytest.fixture
def temporary_tasks() -> Iterator[Callable[..., Any]]:
    """Yield ``keep(task_or_name)``; every task registered during the test is unregistered after.

    Use it when a test registers tasks of its own with ``@housekeeping_task`` or ``group``.
    """
    before = set(registry.as_mapping())
    yield lambda task: task
    for name in set(registry.as_mapping()) - before:
        registry.unregister(name)


@pytest.fixture
def task_named() -> Callable[[str], HousekeepingTask]:
    return registry.get

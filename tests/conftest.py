from collections.abc import Iterator

import pytest

from django_housekeeping import registry


@pytest.fixture
def temporary_tasks() -> Iterator[None]:
    """Every task registered while the test runs is unregistered after it."""
    before = set(registry.as_mapping())
    yield
    for name in set(registry.as_mapping()) - before:
        registry.unregister(name)

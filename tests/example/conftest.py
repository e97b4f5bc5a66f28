from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.example.project import ExampleSite, ServerDatabase, database_name, vendor


def throwaway_database(tmp_path: Path, suffix: str) -> Iterator[str]:
    """The URL of a new, empty database of this run's kind; dropped afterwards."""
    if vendor() == "sqlite":
        yield f"sqlite:///{tmp_path / f'{suffix}.sqlite3'}"
        return
    database = ServerDatabase(database_name(suffix))
    database.create()
    try:
        yield database.url
    finally:
        database.drop()


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ExampleSite]:
    """The example project on a migrated database of its own, shared by the example tests.

    Each test's ``site.python(...)`` starts from an empty site (``reset()``).
    """
    for url in throwaway_database(tmp_path_factory.mktemp("example"), "example"):
        example = ExampleSite(url)
        example.manage("migrate", "--no-input", "-v", "0")
        yield example


@pytest.fixture
def fresh_database_url(tmp_path: Path) -> Iterator[str]:
    """A new, empty database for one test."""
    yield from throwaway_database(tmp_path, "example_fresh")

"""The split between database-sensitive tests (run on the three databases) and the others (run on
SQLite alone) is checked, not guessed: a test module that does something whose behaviour can
differ between databases must be listed in ``tests/db_split.py``
(docs/development.md#which-tests-run-on-which-database)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.db_split import DB_SENSITIVE, SENSITIVE_MARKERS, TESTS, is_db_sensitive, relative

# What in a module's text makes it database-sensitive, and why.
PATTERNS = {
    r"\bcursor\(": "raw SQL (a cursor)",
    r"\.raw\(": "raw SQL (Manager.raw)",
    r"\bexecute(many)?\(": "raw SQL (execute)",
    r"transaction\s*=\s*True": "real transactions (django_db(transaction=True))",
    r"\bTransactionTestCase\b|\bLiveServerTestCase\b|\blive_server\b": "real transactions",
    r"\batomic\b|\bon_commit\b|\bsavepoint": "transactions",
    r"select_for_update|skip_locked|nowait": "row locks",
    r"\.vendor\b|\bvendor\(|\bconnections\[|\.features\.": "a branch on the database",
    r"HOUSEKEEPING_TEST_DB\b|\bTEST_DB\b": "a branch on the test database",
    r"CaptureQueriesContext|captured_queries|num_queries": "the SQL a query sends",
    r"MigrationExecutor|[\"']migrate[\"']|\bmigrat\w*\(": "migrations applied",
    r"\.purge\(|\bpurge\(": "the purge engine",
    r"\bmanage\(": "a housekeeping command in a new process, on the test database",
    r"\bmark\.(" + "|".join(SENSITIVE_MARKERS) + r")\b": "a marker of real processes or databases",
}
# Imports of the code that claims, locks and deletes.
SENSITIVE_PACKAGES = (
    "django_housekeeping.purging",
    "django_housekeeping.running",
    "django_housekeeping.scheduling",
    "django_housekeeping.monitoring",
)
SENSITIVE_NAMES = {"purge", "erase", "holds", "retention"}  # from django_housekeeping import …


def modules() -> list[Path]:
    """The test modules, but this one (which names every pattern)."""
    return sorted(path for path in TESTS.rglob("test_*.py") if path != Path(__file__).resolve())


def reasons(path: Path) -> list[str]:
    """What in the module at ``path``, or in the ``conftest.py`` of its folder below tests/, can
    behave differently from one database to another."""
    text = path.read_text()
    conftest = path.parent / "conftest.py"
    if path.parent != TESTS and conftest.exists():
        text += "\n" + conftest.read_text()
    found = [
        f"{why}: {match.group(0)!r}"
        for pattern, why in PATTERNS.items()
        if (match := re.search(pattern, text))
    ]
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for module in modules:
            name = module.removeprefix("django_housekeeping.")
            if module.startswith(SENSITIVE_PACKAGES) or name in SENSITIVE_NAMES:
                found.append(f"imports {module}")
    return found


def test_a_module_that_can_differ_between_databases_runs_on_all_three() -> None:
    unlisted = {
        relative(path): why
        for path in modules()
        if not is_db_sensitive(path) and (why := reasons(path))
    }
    assert unlisted == {}, (
        "these test modules do something whose behaviour can differ between databases but run on "
        "SQLite only: add them to DB_SENSITIVE in tests/db_split.py"
    )


def test_every_entry_of_the_sensitive_set_exists() -> None:
    missing = [entry for entry in DB_SENSITIVE if not (TESTS / entry).exists()]
    assert missing == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("pytestmark = pytest.mark.django_db(transaction=True)", True),
        ("with connection.cursor() as cursor:\n    cursor.execute('SELECT 1')", True),
        ("if connection.vendor == 'postgresql':\n    pass", True),
        ("from django_housekeeping.running.runner import claim", True),
        ("from django_housekeeping import holds, registry", True),
        ("from django_housekeeping import (\n    registry,\n    purge,\n)", True),
        ("@pytest.mark.databases('postgres')\ndef test_x(): pass", True),
        ("with CaptureQueriesContext(connection) as queries:\n    pass", True),
        ("from django_housekeeping import registry, run_task\nregistry.get('x')", False),
        ("from django_housekeeping.presenters import describe_schedule", False),
    ],
)
def test_the_rule_recognises_what_can_differ(tmp_path: Path, text: str, expected: bool) -> None:
    module = tmp_path / "test_module.py"
    module.write_text(text + "\n")
    assert bool(reasons(module)) is expected


def test_the_collected_tests_carry_the_marker_of_their_module(
    request: pytest.FixtureRequest,
) -> None:
    """Every test this session runs (this one at least) is marked ``db_sensitive`` exactly when
    its module is listed or it carries a marker of real processes or databases."""
    wrong = [
        item.nodeid
        for item in request.session.items
        if (item.get_closest_marker("db_sensitive") is not None)
        != (
            is_db_sensitive(item.path)
            or any(item.get_closest_marker(name) for name in SENSITIVE_MARKERS)
        )
    ]
    assert wrong == []
    assert request.node.get_closest_marker("db_sensitive") is None
    assert is_db_sensitive(TESTS / "purging" / "test_engine.py")
    assert not is_db_sensitive(Path(__file__))

"""The scripts: ``scripts/test`` (every phase runs whatever another did, each with its own log, and
one table says what passed and failed; run against a fake tox in a copy of the script's tree),
``scripts/checks-docs`` (the system-check reference is current), and the README's links."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from importlib.machinery import SourceFileLoader
from importlib.util import module_from_spec, spec_from_loader
from pathlib import Path
from types import ModuleType

from tests.helpers import check_generated_docs

ROOT = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/bin/sh
# The server check reads a script from stdin; `-m pip wheel ... --wheel-dir DIR .` builds.
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
    while [ $# -gt 0 ]; do
        if [ "$1" = "--wheel-dir" ]; then mkdir -p "$2" && touch "$2/fake-0.1-py3-none-any.whl"; fi
        shift
    done
fi
exit 0
"""

FAKE_TOX = """#!/bin/sh
# `tox run [--installpkg W] -e ENV -- ARGS`: ENV named in $FAIL fails (in every phase).
echo "fake tox $*"
case " $* " in
    *" -e $FAIL "*) echo "a deliberately failing test in $FAIL"; exit 1 ;;
esac
exit 0
"""


# Python 3.13 for tox -e django-pre: `-c ""` answers, and `-m pip index versions [--pre] Django`
# names the newest Django the (fake) index offers: $FAKE_DJANGO_PRE with --pre, 6.1.3 without.
FAKE_PYTHON_313 = """#!/bin/sh
case " $* " in
    *" --pre "*) echo "Django (${FAKE_DJANGO_PRE:-6.1.3})" ;;
    *" index "*) echo "Django (6.1.3)" ;;
esac
exit 0
"""


def fake_tree(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "test", tmp_path / "scripts" / "test")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (
        ("python", FAKE_PYTHON),
        ("tox", FAKE_TOX),
        ("on-path/python3.13", FAKE_PYTHON_313),
    ):
        path = bin_dir / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def run_script(
    tree: Path, fail: str, django_pre: str = "6.1.3"
) -> subprocess.CompletedProcess[str]:
    """``scripts/test`` in ``tree`` with a fake tox (failing the environment ``fail``) and a fake
    Python 3.13 on ``PATH`` whose package index offers ``django_pre`` as its newest pre-release."""
    path = os.pathsep.join([str(tree / ".venv" / "bin" / "on-path"), os.environ["PATH"]])
    return subprocess.run(
        ["bash", str(tree / "scripts" / "test")],
        env={**os.environ, "FAIL": fail, "FAKE_DJANGO_PRE": django_pre, "PATH": path},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def summary(output: str) -> dict[str, str]:
    lines = output.splitlines()
    table = lines[next(i for i, line in enumerate(lines) if line.startswith("phase")) + 1 :]
    return {line.split()[0]: line.split()[1] for line in table if line.strip()}


def test_a_failing_environment_lets_every_other_phase_run_and_report(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path)

    result = run_script(tree, fail="latest-postgres")

    assert result.returncode == 1
    assert summary(result.stdout.split("What failed")[0]) == {
        "package": "passed",
        "checks": "passed",
        "latest-sqlite": "passed",
        "latest-postgres": "FAILED",
        "latest-mysql": "passed",
        "django-pre": "not-run",
        "latest-sqlite-processes": "passed",
        "latest-postgres-processes": "FAILED",
        "latest-mysql-processes": "passed",
        "latest-sqlite-workers": "passed",
        "latest-postgres-workers": "FAILED",
        "latest-mysql-workers": "passed",
        "coverage": "passed",
        "all": "FAILED",
    }
    logs = tree / ".test-logs"
    assert (
        "a deliberately failing test in latest-postgres"
        in (logs / "latest-postgres.log").read_text()
    )
    # The database-agnostic tests once, on SQLite; the sensitive ones on the three.
    assert "-e latest-sqlite -- -m not processes" in (logs / "latest-sqlite.log").read_text()
    assert (
        "-e latest-mysql -- -m db_sensitive and not processes"
        in (logs / "latest-mysql.log").read_text()
    )
    # No pre-release newer than the newest release: django-pre is left out, and says why.
    assert not (logs / "django-pre.log").exists()
    assert re.search(
        r"django-pre +not-run .*no pre-release newer than Django 6\.1\.3", result.stdout
    )
    assert (
        "-e latest-mysql -- -m processes and not workers"
        in (logs / "latest-mysql-processes.log").read_text()
    )
    assert "-e latest-mysql -- -m workers" in (logs / "latest-mysql-workers.log").read_text()
    # The end of each failed phase's log follows the table.
    assert "--- latest-postgres (.test-logs/latest-postgres.log, its end)" in result.stdout


def test_when_everything_passes_the_exit_status_is_zero(tmp_path: Path) -> None:
    result = run_script(fake_tree(tmp_path), fail="nothing")

    assert result.returncode == 0
    assert set(summary(result.stdout).values()) == {"passed", "not-run"}
    assert summary(result.stdout)["django-pre"] == "not-run"


def test_a_newer_pre_release_runs_and_may_fail(tmp_path: Path) -> None:
    tree = fake_tree(tmp_path)

    result = run_script(tree, fail="django-pre", django_pre="6.2a1")

    assert result.returncode == 0, result.stdout
    table = summary(result.stdout.split("What failed")[0])
    assert table["django-pre"] == "failed"  # allowed to fail: not FAILED
    assert table["all"] == "passed"
    assert (
        "-e django-pre -- -m not processes" in (tree / ".test-logs" / "django-pre.log").read_text()
    )


def load_checks_docs() -> ModuleType:
    """``scripts/checks-docs`` as a module (it has no ``.py`` suffix)."""
    loader = SourceFileLoader("checks_docs", str(ROOT / "scripts" / "checks-docs"))
    spec = spec_from_loader("checks_docs", loader)
    assert spec is not None
    module = module_from_spec(spec)
    sys.modules["checks_docs"] = module  # for its dataclass
    try:
        loader.exec_module(module)
    finally:
        del sys.modules["checks_docs"]
    return module


def test_the_checks_reference_in_the_docs_is_up_to_date() -> None:
    result = check_generated_docs("checks-docs")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "docs/checks.md is up to date" in result.stdout
    assert "explains no" not in result.stderr  # every ID has its explanation in the page


def test_the_checks_reference_reads_errors_and_warnings_from_the_docstring() -> None:
    checks_docs = load_checks_docs()
    docstring = (
        "System checks.\n\n"
        "- ``django_housekeeping.W001`` a task is overdue\n"
        "  by more than its ``expect_success_every``.\n"
        "- ``django_housekeeping.E002`` ``HOUSEKEEPING`` is | odd, ``a|b`` too.\n"
        "- ``django_housekeeping.E001`` a schedule is invalid.\n\n"
        "Not a check: ``django_housekeeping.E999``.\n"
    )

    checks = checks_docs.parse(docstring)
    table = checks_docs.render(checks, "## django_housekeeping.E001\n\nExplained.\n")

    assert [(c.id, c.level) for c in checks] == [
        ("E001", "error"),
        ("E002", "error"),
        ("W001", "warning"),
    ]
    assert checks[2].description == "A task is overdue by more than its `expect_success_every`."
    assert "| [`django_housekeeping.E001`](#django_housekeepinge001) | error |" in table
    # No explanation below: no link (the strict docs build would reject one).
    assert "| `django_housekeeping.W001` | warning |" in table
    # A pipe is escaped in the table's text, not in code (where the escape would show).
    assert "`HOUSEKEEPING` is \\| odd, `a|b` too." in table


def test_the_readme_links_only_to_absolute_urls() -> None:
    """The README is the long description on the package index, where a relative link is dead."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    assert "](docs/" not in readme
    assert "](./" not in readme
    links = re.findall(r"\]\(([^)]+)\)", readme)
    assert links
    relative = [link for link in links if not link.startswith(("https://", "http://", "#"))]
    assert not relative

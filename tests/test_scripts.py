"""``scripts/test``: every phase runs whatever another did, each with its own log, and one table
says what passed and failed. Run against a fake tox in a copy of the script's tree."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

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
# `tox run [--installpkg W] -e ENV -- ARGS`: ENV named in $FAIL fails (with -m processes too).
echo "fake tox $*"
case " $* " in
    *" -e $FAIL "*) echo "a deliberately failing test in $FAIL"; exit 1 ;;
esac
exit 0
"""


def fake_tree(tmp_path: Path) -> Path:
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "test", tmp_path / "scripts" / "test")
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    for name, text in (("python", FAKE_PYTHON), ("tox", FAKE_TOX)):
        path = bin_dir / name
        path.write_text(text)
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def run_script(tree: Path, fail: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(tree / "scripts" / "test")],
        env={**os.environ, "FAIL": fail},
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
        "latest-sqlite-processes": "passed",
        "latest-postgres-processes": "FAILED",
        "latest-mysql-processes": "passed",
        "coverage": "passed",
        "all": "FAILED",
    }
    logs = tree / ".test-logs"
    assert (
        "a deliberately failing test in latest-postgres"
        in (logs / "latest-postgres.log").read_text()
    )
    assert "-e latest-mysql -- -m not processes" in (logs / "latest-mysql.log").read_text()
    # The end of each failed phase's log follows the table.
    assert "--- latest-postgres (.test-logs/latest-postgres.log, its end)" in result.stdout


def test_when_everything_passes_the_exit_status_is_zero(tmp_path: Path) -> None:
    result = run_script(fake_tree(tmp_path), fail="nothing")

    assert result.returncode == 0
    assert set(summary(result.stdout).values()) == {"passed"}

"""W004: another package named ``django_housekeeping`` on the import path — Debian's
``python3-django-housekeeping`` (spanezz's project) or another copy of this one — is named by the
system checks and by ``housekeeping check``."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from django.test import override_settings

from django_housekeeping.conf.checks import check_other_packages
from django_housekeeping.conf.packages import imported_package, other_packages
from tests.helpers import housekeeping


def debian_package(root: Path) -> Path:
    """A package laid out as spanezz's django-housekeeping is."""
    package = root / "django_housekeeping"
    (package / "management" / "commands").mkdir(parents=True)
    for name in ("__init__.py", "housekeeping.py", "toposort.py", "run.py", "models.py"):
        (package / name).write_text("")
    return package


def test_nothing_to_say_on_a_clean_path(monkeypatch: pytest.MonkeyPatch) -> None:
    # Only this package's directory (a development checkout may also have another copy
    # installed: that one would be named, rightly).
    monkeypatch.setattr(sys, "path", [str(imported_package().parent), "/nonexistent"])

    assert other_packages() == []
    assert check_other_packages() == []


def test_the_debian_package_beside_this_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = debian_package(tmp_path / "dist-packages")
    monkeypatch.syspath_prepend(str(tmp_path / "dist-packages"))

    (warning,) = [w for w in check_other_packages() if str(package.resolve()) in w.msg]

    assert warning.id == "django_housekeeping.W004"
    assert warning.msg == (
        f"Another package named django_housekeeping is installed at {package.resolve()}: another "
        "project with the same import name (spanezz's django-housekeeping, Debian's and Ubuntu's "
        f"python3-django-housekeeping). This site imports {imported_package()}."
    )
    assert warning.hint is not None
    assert "apt remove python3-django-housekeeping" in warning.hint


def test_another_copy_of_this_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "old" / "django_housekeeping"
    (copy / "tasks").mkdir(parents=True)
    (copy / "__init__.py").write_text("")
    (copy / "tasks" / "registry.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "old"))

    found = other_packages()[0]  # first on the path

    assert found.path == copy.resolve()
    assert not found.other_project
    assert "another copy of django-housekeeping" in check_other_packages()[0].msg


@pytest.mark.django_db
@override_settings(SILENCED_SYSTEM_CHECKS=[])
def test_housekeeping_check_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    debian_package(tmp_path / "dist-packages")
    monkeypatch.syspath_prepend(str(tmp_path / "dist-packages"))

    outcome = housekeeping("check")

    assert "django_housekeeping.W004: Another package named django_housekeeping" in outcome.out
    assert "spanezz's django-housekeeping" in outcome.out

"""One version, in one place: ``django_housekeeping.__version__``; the package metadata (pyproject
reads it, ``dynamic = ["version"]``) and the API schema say the same."""

from __future__ import annotations

import json
import tomllib
from importlib.metadata import distribution
from pathlib import Path

import django_housekeeping
from django_housekeeping.api.schema import CONTRACT_PREFIX, build_schema

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_the_version_is_0_2_0() -> None:
    assert django_housekeeping.__version__ == "0.2.0"


def test_the_package_metadata_reads_it() -> None:
    """pyproject.toml has no version of its own: the build reads ``__version__``."""
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in project["project"]
    assert "version" in project["project"]["dynamic"]
    version = project["tool"]["setuptools"]["dynamic"]["version"]
    assert version == {"attr": "django_housekeeping.__version__"}


def test_the_installed_metadata_says_the_same_version() -> None:
    """The installed distribution's version, when it is this tree's (tox installs the package it
    builds from it; an editable install of another checkout has that checkout's metadata, which
    the build test above covers for this one)."""
    dist = distribution("django-housekeeping")
    direct_url = json.loads(dist.read_text("direct_url.json") or "{}")
    installed_from = direct_url.get("url", "")
    if direct_url.get("dir_info", {}).get("editable") and installed_from != REPO_ROOT.as_uri():
        installed_here = Path(django_housekeeping.__file__).resolve().is_relative_to(REPO_ROOT)
        assert installed_here, "django_housekeeping imported from another tree than this test's"
        return
    assert dist.version == django_housekeeping.__version__


def test_the_api_schema_says_the_same_version() -> None:
    assert (
        build_schema(prefix=CONTRACT_PREFIX)["info"]["version"] == django_housekeeping.__version__
    )

"""docs/api.md is generated from the schema (scripts/api-docs) and kept up to date."""

from __future__ import annotations

from pathlib import Path

from drf_spectacular.drainage import GENERATOR_STATS

from django_housekeeping.api.schema import CONTRACT_PREFIX, build_schema
from tests.helpers import check_generated_docs

ROOT = Path(__file__).resolve().parents[2]


def test_the_api_reference_is_up_to_date() -> None:
    result = check_generated_docs("api-docs")

    assert result.returncode == 0, result.stdout + result.stderr
    assert "docs/api.md is up to date" in result.stdout


def test_the_schema_is_generated_without_warnings_or_errors() -> None:
    schema = build_schema(prefix=CONTRACT_PREFIX)

    assert not GENERATOR_STATS._warn_cache
    assert not GENERATOR_STATS._error_cache
    assert schema["info"]["title"] == "django-housekeeping API"
    assert all(path.startswith("/api/admin/scheduler/") for path in schema["paths"])


def test_the_reference_documents_every_operation() -> None:
    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    schema = build_schema(prefix=CONTRACT_PREFIX)

    for path, methods in schema["paths"].items():
        for method in methods:
            assert f"### {method.upper()} `{path}`" in text

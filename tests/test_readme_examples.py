"""The README's examples agree: its ``HOUSEKEEPING`` settings, applied to its
``@housekeeping_task`` example, pass the system checks and change what they say they change."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from django_housekeeping import cron, registry
from django_housekeeping.conf.checks import check_retention_policies, check_settings
from tests.testapp.models import Thread

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def block_with(text: str) -> str:
    (block,) = [block for block in BLOCKS if text in block and "INSTALLED_APPS" not in block]
    return block


@pytest.mark.usefixtures("temporary_tasks")
def test_the_settings_example_fits_the_task_example() -> None:
    task_code = block_with("@housekeeping_task(")
    settings_code = block_with("HOUSEKEEPING = {")
    namespace: dict[str, Any] = {"Conversation": Thread}  # the README's model, any model will do
    exec(compile(task_code, "README.md", "exec"), namespace)
    settings: dict[str, Any] = {}
    exec(compile(settings_code, "README.md", "exec"), settings)

    with override_settings(HOUSEKEEPING=settings["HOUSEKEEPING"]):
        assert check_settings() + check_retention_policies() == []
        task = registry.get("conversations")
        assert task.schedule == cron("30 3 * * *")
        assert task.options == {"days": 60}
    assert registry.get("conversations").schedule == cron("0 3 * * sun")
    assert timedelta(days=registry.get("conversations").options["days"]) == timedelta(days=30)

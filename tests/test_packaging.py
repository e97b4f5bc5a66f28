"""What a user gets from ``pip install``: importable without settings, no models imported."""

import os
import subprocess
import sys
from pathlib import Path

import django_housekeeping

ROOT = Path(__file__).resolve().parent.parent


def test_importing_the_package_needs_no_settings_and_imports_no_models():
    environment = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    script = (
        "import sys, django_housekeeping\n"
        "from django_housekeeping import cron, every, group, housekeeping_task, purge, registry\n"
        "models = [m for m in sys.modules if m.startswith('django_housekeeping.models')]\n"
        "assert not models, models\n"
        "assert callable(purge)\n"
    )
    subprocess.run([sys.executable, "-c", script], env=environment, check=True, timeout=60)


def test_the_package_is_typed():
    assert (Path(django_housekeeping.__file__).parent / "py.typed").is_file()

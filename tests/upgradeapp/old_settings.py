"""The previous release's (0.1.0) settings for the upgrade test: its own process settings, its
settings keys only, and this app's tasks instead of the scheduler tests' every-second ones."""

import os

from tests.process_settings import *  # noqa: F403
from tests.process_settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "tests.proctasks"]
INSTALLED_APPS += ["tests.upgradeapp"]
HOUSEKEEPING = {
    "LEASE_TTL": 3.0,
    "PURGE_ARCHIVE": True,
    "PURGE_ARCHIVE_DIR": os.environ["HOUSEKEEPING_UPGRADE_ARCHIVES"],
}

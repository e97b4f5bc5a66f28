"""The current release's settings for the upgrade test: the process settings with this app's
tasks instead of the scheduler tests' every-second ones, and a short heartbeat timeout (the first
leader marks the run 0.1.0 left behind ``interrupted``)."""

import os

from tests.process_settings import *  # noqa: F403
from tests.process_settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "tests.proctasks"]
INSTALLED_APPS += ["tests.upgradeapp"]
HOUSEKEEPING = {
    "LEASE_TTL": 3.0,
    "HEARTBEAT_INTERVAL": 0.5,
    "HEARTBEAT_TIMEOUT": 3.0,
    "PURGE_ARCHIVE_DIR": os.environ["HOUSEKEEPING_UPGRADE_ARCHIVES"],
}

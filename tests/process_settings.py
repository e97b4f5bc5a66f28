"""Settings for the real processes the scheduler tests start (scheduler commands, gunicorn,
runserver). They share the test database that pytest created: its name comes from
``HOUSEKEEPING_PROCESS_DB_NAME``."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "tests.proctasks"]
DATABASES["default"]["NAME"] = os.environ["HOUSEKEEPING_PROCESS_DB_NAME"]
ROOT_URLCONF = "tests.process_urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DEBUG = False

HOUSEKEEPING = {"LEASE_TTL": float(os.environ.get("HOUSEKEEPING_PROCESS_LEASE_TTL", "3"))}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"}
    },
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["stderr"], "level": "WARNING"},
    "loggers": {
        "django_housekeeping": {"level": "INFO"},
        "apscheduler": {"level": "WARNING"},
    },
}

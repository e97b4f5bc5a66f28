"""Settings for the real processes the scheduler tests start (scheduler commands, gunicorn,
runserver). They share the test database that pytest created: its name comes from
``HOUSEKEEPING_PROCESS_DB_NAME``."""

import importlib
import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES, INSTALLED_APPS, MIDDLEWARE

INSTALLED_APPS = [*INSTALLED_APPS, "tests.proctasks"]
DATABASES["default"]["NAME"] = os.environ["HOUSEKEEPING_PROCESS_DB_NAME"]
ROOT_URLCONF = "tests.process_urls"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
DEBUG = False

HOUSEKEEPING = {
    "LEASE_TTL": float(os.environ.get("HOUSEKEEPING_PROCESS_LEASE_TTL", "3")),
    # Longer than the scheduler tests stop a process (SIGSTOP for the lease TTL and more): a run
    # frozen longer than this is taken for dead, and if its process wakes up it goes on. The
    # heartbeat tests make it short, to see a killed process's run interrupted in seconds.
    "HEARTBEAT_INTERVAL": 0.5,
    "HEARTBEAT_TIMEOUT": float(os.environ.get("HOUSEKEEPING_PROCESS_HEARTBEAT_TIMEOUT", "15")),
    "MAX_WAIT": 3,
    "TRIGGER_THROTTLE_RATE": os.environ.get("HOUSEKEEPING_PROCESS_THROTTLE") or None,
}
# The API tests log in with HTTP Basic on every request: a fast hash (tests only).
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
# Every response says which process answered (tests.process_urls.worker_pid).
MIDDLEWARE = [*MIDDLEWARE, "tests.process_urls.worker_pid"]

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

# A module of the test's own (in its temporary directory), imported so that the runserver
# autoreloader watches its file: the autoreload test touches it. Touching a file of the checkout
# instead would also reload the runservers of the other databases' test runs beside it.
if watched_module := os.environ.get("HOUSEKEEPING_PROCESS_WATCHED_MODULE"):
    importlib.import_module(watched_module)

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
    # Tasks a test leaves out of the schedule, and the retries of the worker tests' crash task.
    "TASKS": {
        **{
            name: {"enabled": False}
            for name in filter(None, os.environ.get("HOUSEKEEPING_PROCESS_DISABLE", "").split(","))
        },
        "crashy": {"retries": int(os.environ.get("HOUSEKEEPING_PROCESS_RETRIES", "0"))},
    },
}

# The "django_tasks" executor (tests/scheduling/test_workers.py): HOUSEKEEPING_PROCESS_EXECUTOR
# names the backend runs are enqueued on, "database" (django-tasks-db, its db_worker) or "rq"
# (django-tasks-rq, RQ's workers, on the local Redis: its database REDIS_TEST_DB, one per test
# database, which the tests flush).
TASKS = {
    **TASKS,  # noqa: F405
    "rq": {"BACKEND": "django_tasks_rq.RQBackend"},
}
RQ_QUEUES = {
    "default": {
        "HOST": "127.0.0.1",
        "PORT": int(os.environ.get("HOUSEKEEPING_PROCESS_REDIS_PORT", "6379")),
        "DB": REDIS_TEST_DB,  # noqa: F405
        # A broker that does not answer fails the enqueue at once, instead of after minutes.
        "REDIS_CLIENT_KWARGS": {"socket_connect_timeout": 2},
    }
}
EXECUTOR_BACKEND = os.environ.get("HOUSEKEEPING_PROCESS_EXECUTOR")
if EXECUTOR_BACKEND:
    HOUSEKEEPING["EXECUTOR"] = "django_tasks"
    HOUSEKEEPING["EXECUTOR_BACKEND"] = EXECUTOR_BACKEND
    if EXECUTOR_BACKEND == "rq":
        INSTALLED_APPS = [*INSTALLED_APPS, "django_rq"]
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

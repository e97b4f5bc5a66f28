"""Settings for the test suite.

``HOUSEKEEPING_TEST_DB`` picks the database: ``sqlite`` (default), ``postgres`` or ``mysql``.
``HOUSEKEEPING_TEST_POSTGRES_URL`` and ``HOUSEKEEPING_TEST_MYSQL_URL`` say where the servers are
(defaults below); ``HOUSEKEEPING_TEST_DB_NAME`` names the test database, so that two runs on one
server do not collide.
"""

import os

import dj_database_url
import django

SECRET_KEY = "tests-only-not-a-secret"
USE_TZ = True
TIME_ZONE = "Europe/Berlin"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_apscheduler",
    # The database backend of Django's Tasks framework: the executor's tests with real workers
    # (db_worker) need its table in the test database.
    "django_tasks_db",
    "django_housekeeping",
    "tests.testapp",
    "tests.procapp",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# Django's Tasks framework (built in from Django 6.0, the django-tasks backport before): the
# "django_tasks" executor is tested on the immediate backend, on the dummy one, and on the
# database backend (django-tasks-db) with its real workers.
try:
    import django.tasks

    _TASK_BACKENDS = "django.tasks.backends"
except ImportError:
    _TASK_BACKENDS = "django_tasks.backends"
TASKS = {
    "default": {"BACKEND": f"{_TASK_BACKENDS}.immediate.ImmediateBackend"},
    "dummy": {"BACKEND": f"{_TASK_BACKENDS}.dummy.DummyBackend"},
    "database": {"BACKEND": "django_tasks_db.DatabaseBackend"},
}

DATABASE_URLS = {
    "sqlite": "sqlite:///housekeeping.sqlite3",
    "postgres": os.environ.get(
        "HOUSEKEEPING_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/housekeeping"
    ),
    "mysql": os.environ.get(
        "HOUSEKEEPING_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/housekeeping?charset=utf8mb4"
    ),
}
TEST_DB = os.environ.get("HOUSEKEEPING_TEST_DB", "sqlite")
# The local Redis database the RQ tests use (and flush): one per test database, so that the three
# databases' test runs that go side by side (scripts/test) never share a queue.
REDIS_TEST_DB = {"sqlite": 5, "postgres": 6, "mysql": 7}.get(TEST_DB, 5)
if TEST_DB not in DATABASE_URLS:
    raise RuntimeError(
        f"HOUSEKEEPING_TEST_DB must be one of {', '.join(DATABASE_URLS)}, got {TEST_DB!r}"
    )
_test_name = os.environ.get("HOUSEKEEPING_TEST_DB_NAME", "test_housekeeping")
DATABASES = {
    "default": {
        **dj_database_url.parse(DATABASE_URLS[TEST_DB]),
        "TEST": {"NAME": f"{_test_name}.sqlite3" if TEST_DB == "sqlite" else _test_name},
    }
}
if TEST_DB == "sqlite":
    # What makes SQLite safe for several processes (see docs/databases.md): write-ahead log, a
    # busy timeout, and transactions that take the write lock when they begin.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }

if django.VERSION >= (6, 1):
    # Django 6.1 sends mail through MAILERS and warns when there is none (the tests turn warnings
    # into errors); the test runner swaps every mailer for the in-memory one.
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}

# A checkout's tests may run with its src/ on PYTHONPATH beside an installed copy of the package:
# W004 would rightly name that copy in every check the tests make. Its own tests unsilence it.
SILENCED_SYSTEM_CHECKS = ["django_housekeeping.W004"]

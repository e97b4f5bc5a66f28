"""Settings of the example chat site. DEVELOPMENT ONLY: never deploy these as they are.

Environment variables:

- ``DATABASE_URL``: where the data lives, e.g. ``postgres://user:pass@host:5432/chat`` or
  ``mysql://user:pass@host:3306/chat?charset=utf8mb4``. Default: SQLite in ``var/db.sqlite3``.
- ``TIME_ZONE``: the time zone the schedules are read in (default ``UTC``).
- ``DJANGO_DEBUG``: ``0`` turns debug mode off (default on).
- ``DJANGO_ALLOWED_HOSTS``: comma-separated host names (default: local addresses only).
- ``HOUSEKEEPING_TEST_MODE``: ``1`` runs Daily Housekeeping every 5 minutes (see below).
- ``HOUSEKEEPING_METRICS_TOKEN``: a secret of 16 characters or more a Prometheus scraper sends to
  read ``/scheduler-admin/metrics/`` (default: none; staff with the view permission may read it).
- ``EMAIL_BACKEND``: where the alert mails go (default: printed on the console).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
import django

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"  # git-ignored: the SQLite database lives here

# DEVELOPMENT ONLY. This key is public (it is in the repository): a site that uses it has no
# secret at all. A real deployment reads its own key from the environment or a secrets store.
SECRET_KEY = "django-insecure-DEVELOPMENT-ONLY-example-chat-key-do-not-deploy-0123456789"
DEBUG = os.environ.get("DJANGO_DEBUG", "1") != "0"
ALLOWED_HOSTS = [
    host.strip()
    for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]").split(",")
    if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # Before staticfiles: its `runserver` (which starts the scheduler) must win.
    "django_housekeeping",
    "django.contrib.staticfiles",
    "django_apscheduler",
    "rest_framework",
    "accounts",
    "chat",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "core.urls"
WSGI_APPLICATION = "core.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# --- Database ---------------------------------------------------------------------------------
# SQLite by default. Several processes use it at once (the web server, the scheduler thread,
# `manage.py` commands), which SQLite handles well only with these settings:
#   journal_mode=WAL        readers no longer block the writer, nor the writer the readers;
#   synchronous=NORMAL      safe with WAL and much faster than FULL;
#   transaction_mode        IMMEDIATE: a transaction takes the write lock when it begins, so two
#                           writers queue up instead of failing with "database is locked" when a
#                           read transaction tries to become a write transaction;
#   timeout=20              seconds a writer waits for the lock before giving up.
SQLITE_OPTIONS = {
    "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    "transaction_mode": "IMMEDIATE",
    "timeout": 20,
}
if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"])}
else:
    VAR_DIR.mkdir(exist_ok=True)
    DATABASES = {
        "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "db.sqlite3"}
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {**SQLITE_OPTIONS, **DATABASES["default"].get("OPTIONS", {})}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
LOGIN_URL = "admin:login"

# --- API: Django REST framework with JWT (djangorestframework-simplejwt) ------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework_simplejwt.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
}
SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=30),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=1),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

# --- Housekeeping -----------------------------------------------------------------------------
# The tasks and their schedules are in chat/housekeeping.py; this dict overrides them per
# deployment, e.g. {"conversations": {"keep": 60}} (the conversations policy's days).
HOUSEKEEPING = {
    # Start the scheduler in the serving process (runserver, gunicorn ...), one leader per site.
    "AUTOSTART": True,
    # The task whose results are the site's own statistics (the API's `statistics`, the dashboard).
    "STATISTICS_TASK": "stats",
    # One mail to ADMINS per failure streak of a task, and one when it recovers.
    "ALERT_MAIL_ADMINS": True,
    # Prometheus scrapes /scheduler-admin/metrics/ with `Authorization: Bearer <token>`.
    "METRICS_TOKEN": os.environ.get("HOUSEKEEPING_METRICS_TOKEN") or None,
    "TASKS": {
        # Test mode: uncomment the next line to run Daily Housekeeping every 5 minutes.
        # "daily_housekeeping": {"schedule": "*/5 * * * *"},  # never in production
    },
}
if os.environ.get("HOUSEKEEPING_TEST_MODE") == "1":  # the same line, from the environment
    HOUSEKEEPING["TASKS"]["daily_housekeeping"] = {"schedule": "*/5 * * * *"}

# Runs executed by a worker of Django's Tasks framework instead of the web process: every run is
# recorded "queued" and enqueued on django-tasks-db's database backend, and `manage.py db_worker`
# executes it (scripts/demo starts one beside the server when HOUSEKEEPING_DEMO_WORKER=1).
if os.environ.get("HOUSEKEEPING_DEMO_WORKER") == "1":
    INSTALLED_APPS.append("django_tasks_db")
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
    HOUSEKEEPING["EXECUTOR"] = "django_tasks"

# The alert mails of the demo are printed on the console; a real site sets its mail server.
# (Django 6.0 takes addresses and deprecates the (name, address) pairs Django 5.2 needs.)
ADMINS = ["ops@example.com"] if django.VERSION >= (6, 0) else [("Operators", "ops@example.com")]
_email_backend = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
if django.VERSION >= (6, 1):  # MAILERS replaces EMAIL_BACKEND
    MAILERS = {"default": {"BACKEND": _email_backend}}
else:
    EMAIL_BACKEND = _email_backend

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "console": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "console"},
    },
    "loggers": {
        # Every run, its outcome and the scheduler's leader changes.
        "django_housekeeping": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "apscheduler": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}

"""Settings for the test suite.

``HOUSEKEEPING_TEST_DB`` picks the database: sqlite (default), postgres or mysql.
``HOUSEKEEPING_TEST_DB_HOST``, ``_PORT``, ``_USER``, ``_PASSWORD`` point elsewhere and
``HOUSEKEEPING_TEST_DB_NAME`` names the test database (so parallel runs do not collide).
"""

import os

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
    "django_housekeeping",
    "tests.testapp",
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

_DB = os.environ.get("HOUSEKEEPING_TEST_DB", "sqlite")
_ENGINES = {
    "sqlite": ("django.db.backends.sqlite3", None, "", ""),
    "postgres": ("django.db.backends.postgresql", 5432, "postgres", ""),
    "mysql": ("django.db.backends.mysql", 3306, "root", ""),
}
if _DB not in _ENGINES:
    raise RuntimeError(f"HOUSEKEEPING_TEST_DB must be one of {', '.join(_ENGINES)}, got {_DB!r}")
_ENGINE, _PORT, _USER, _PASSWORD = _ENGINES[_DB]
DATABASES = {
    "default": (
        {
            "ENGINE": _ENGINE,
            "NAME": "housekeeping.sqlite3",
            "TEST": {
                "NAME": os.environ.get("HOUSEKEEPING_TEST_DB_NAME", "test_housekeeping")
                + ".sqlite3"
            },
        }
        if _DB == "sqlite"
        else {
            "ENGINE": _ENGINE,
            "NAME": "housekeeping",
            "HOST": os.environ.get("HOUSEKEEPING_TEST_DB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("HOUSEKEEPING_TEST_DB_PORT", _PORT),
            "USER": os.environ.get("HOUSEKEEPING_TEST_DB_USER", _USER),
            "PASSWORD": os.environ.get("HOUSEKEEPING_TEST_DB_PASSWORD", _PASSWORD),
            "TEST": {"NAME": os.environ.get("HOUSEKEEPING_TEST_DB_NAME", "test_housekeeping")},
            **({"OPTIONS": {"charset": "utf8mb4"}} if _DB == "mysql" else {}),
        }
    )
}

"""Whether the database has the tables the ``housekeeping`` command reads and writes.

Before ``migrate`` every subcommand would end in a ``ProgrammingError`` / ``OperationalError``
traceback on its first query; asking once, up front, turns that into one line that says what to
do.
"""

from __future__ import annotations

from django.apps import apps
from django.db import DEFAULT_DB_ALIAS, connections

# The apps whose tables the command uses: this one's, and django-apscheduler's job store (status
# and list read the next run times from it).
APP_LABELS = ("django_housekeeping", "django_apscheduler")


def missing_tables(using: str = DEFAULT_DB_ALIAS) -> list[str]:
    """The tables of :data:`APP_LABELS` the database does not have (one introspection query)."""
    connection = connections[using]
    existing = set(connection.introspection.table_names())
    wanted = [
        model._meta.db_table
        for label in APP_LABELS
        if label in apps.app_configs
        for model in apps.get_app_config(label).get_models()
        if model._meta.managed and not model._meta.proxy
    ]
    return [table for table in wanted if table not in existing]

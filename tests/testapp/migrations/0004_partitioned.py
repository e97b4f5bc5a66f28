"""Partitioned tables: the recipe of docs/purge.md ("Partitioned tables").

On PostgreSQL, ``Reading`` and ``Sample`` are created ``PARTITION BY RANGE (at)`` with the primary
key ``(id, at)`` (a partitioned table's unique constraints must include its partition key); the
model state is Django's usual one (``id`` the primary key), so the ORM works as on any table.
Elsewhere they are plain tables. The partitions themselves are created by the tests.
"""

from typing import Any

import django.db.models.deletion
from django.db import migrations, models

PARTITIONED = {
    "testapp_reading": (
        'CREATE TABLE "testapp_reading" ("id" bigserial NOT NULL, '
        '"at" timestamp with time zone NOT NULL, "value" integer NOT NULL, '
        'PRIMARY KEY ("id", "at")) PARTITION BY RANGE ("at")'
    ),
    "testapp_sample": (
        'CREATE TABLE "testapp_sample" ("id" bigserial NOT NULL, '
        '"at" timestamp with time zone NOT NULL, '
        'PRIMARY KEY ("id", "at")) PARTITION BY RANGE ("at")'
    ),
}


def create_tables(apps: Any, schema_editor: Any) -> None:
    for name in ("Reading", "Sample"):
        model = apps.get_model("testapp", name)
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(PARTITIONED[model._meta.db_table])
        else:
            schema_editor.create_model(model)


def drop_tables(apps: Any, schema_editor: Any) -> None:
    for name in ("Reading", "Sample"):
        schema_editor.delete_model(apps.get_model("testapp", name))


class Migration(migrations.Migration):
    dependencies = [
        ("testapp", "0003_retention"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Reading",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("at", models.DateTimeField()),
                        ("value", models.IntegerField(default=0)),
                    ],
                ),
                migrations.CreateModel(
                    name="Sample",
                    fields=[
                        ("id", models.BigAutoField(primary_key=True, serialize=False)),
                        ("at", models.DateTimeField()),
                    ],
                ),
            ],
        ),
        # After the state operations, so that the models exist in the state it is given.
        migrations.RunPython(create_tables, drop_tables, atomic=False),
        migrations.CreateModel(
            name="SampleNote",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("text", models.CharField(blank=True, max_length=100)),
                (
                    "sample",
                    models.ForeignKey(
                        db_constraint=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="notes",
                        to="testapp.sample",
                    ),
                ),
            ],
        ),
    ]

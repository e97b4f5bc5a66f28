"""The row placing a legal hold and deleting a batch serialize on (holds.lock)."""

from typing import Any

from django.db import migrations, models


def create_the_row(apps: Any, schema_editor: Any) -> None:
    apps.get_model("django_housekeeping", "HoldLock").objects.using(
        schema_editor.connection.alias
    ).get_or_create(id=1)


class Migration(migrations.Migration):
    dependencies = [
        ("django_housekeeping", "0008_rolling_deploys"),
    ]

    operations = [
        migrations.CreateModel(
            name="HoldLock",
            fields=[
                ("id", models.PositiveSmallIntegerField(primary_key=True, serialize=False)),
            ],
            options={
                "verbose_name": "legal hold lock",
                "verbose_name_plural": "legal hold locks",
                "default_permissions": (),
            },
        ),
        migrations.RunPython(create_the_row, migrations.RunPython.noop, elidable=True),
    ]

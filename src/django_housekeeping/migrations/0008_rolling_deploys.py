# Rolling deploys from 0.1.0: the column added since then gets a database default (the previous
# release inserts runs without it), and the run totals count the history recorded before them.

from typing import Any

from django.db import migrations, models


def fill_the_totals(apps: Any, schema_editor: Any) -> None:
    """The run totals (metrics' counters) from the history so far; a counter already higher than
    the history's (it counts pruned runs) keeps its value."""
    from django_housekeeping.monitoring.totals import rebuild

    rebuild(
        apps.get_model("django_housekeeping", "TaskRun"),
        apps.get_model("django_housekeeping", "RunTotal"),
        apps.get_model("django_housekeeping", "DeletionTotal"),
        keep_higher=True,
        using=schema_editor.connection.alias,  # the database being migrated
    )


class Migration(migrations.Migration):

    dependencies = [
        ('django_housekeeping', '0007_rollup_generation'),
    ]

    operations = [
        migrations.AlterField(
            model_name='taskrun',
            name='attempt',
            field=models.PositiveSmallIntegerField(db_default=1, default=1, help_text='1 for the first run of a slot; 2, 3, … for its retries.', verbose_name='attempt'),
        ),
        migrations.RunPython(fill_the_totals, migrations.RunPython.noop, elidable=True),
    ]

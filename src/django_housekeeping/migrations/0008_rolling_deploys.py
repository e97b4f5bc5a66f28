# Rolling deploys from 0.1.0: the column added since then gets a database default (the previous
# release inserts runs without it). Until 0.3 this migration also filled the run totals
# (RunTotal, DeletionTotal) from the history; since 0.3 the metrics' counters are the daily
# rollup's sums (filled by 0004) and nothing reads the totals: their tables are kept for 0.2's
# processes during a rolling deploy and dropped in the next minor release.

from django.db import migrations, models


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
    ]

# The daily rollup keeps the latest finish of its runs: the metrics' last success, which 0.2 read
# from the run totals (RunTotal, no longer read since 0.3).

from typing import Any

from django.db import migrations, models
from django.db.models import Max


def fill_the_last_finishes(apps: Any, schema_editor: Any) -> None:
    """The latest finish of each task and status, from the history and from the run totals 0.2
    kept (they outlive the pruned history), onto the rollup's row of its latest day."""
    using = schema_editor.connection.alias  # the database being migrated
    task_run = apps.get_model("django_housekeeping", "TaskRun")
    run_total = apps.get_model("django_housekeeping", "RunTotal")
    run_day = apps.get_model("django_housekeeping", "RunDay")
    latest: dict[tuple[str, str], Any] = {}
    history = (
        task_run.objects.using(using)
        .filter(dry_run=False, finished_at__isnull=False)
        .exclude(status__in=["queued", "running"])
        .values_list("task_name", "status")
        .annotate(last=Max("finished_at"))
        .order_by()
    )
    totals = (
        run_total.objects.using(using)
        .filter(last_finished_at__isnull=False)
        .values_list("task_name", "status", "last_finished_at")
    )
    for task, status, last in [*history, *totals]:
        if (task, status) not in latest or last > latest[(task, status)]:
            latest[(task, status)] = last
    for (task, status), last in sorted(latest.items()):
        row = (
            run_day.objects.using(using)
            .filter(task_name=task, status=status)
            .order_by("-day", "-bucket")
            .values_list("pk", flat=True)
            .first()
        )
        if row is not None:
            run_day.objects.using(using).filter(pk=row).update(last_finished_at=last)


class Migration(migrations.Migration):

    dependencies = [
        ('django_housekeeping', '0013_run_cancel'),
    ]

    operations = [
        migrations.AddField(
            model_name='runday',
            name='last_finished_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='last finished'),
        ),
        migrations.RunPython(fill_the_last_finishes, migrations.RunPython.noop, elidable=True),
    ]

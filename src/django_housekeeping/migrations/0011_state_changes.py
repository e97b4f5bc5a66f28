# The audit of task state changes (who started destructive work) and the scheduled runs naming it.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("django_housekeeping", "0010_erased_keys"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="TaskStateChange",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("task_name", models.CharField(max_length=200, verbose_name="task")),
                (
                    "changed_at",
                    models.DateTimeField(default=django.utils.timezone.now, verbose_name="changed"),
                ),
                (
                    "via",
                    models.CharField(
                        choices=[
                            ("schedule", "schedule"),
                            ("cli", "command line"),
                            ("admin", "admin"),
                            ("api", "API"),
                            ("dashboard", "dashboard"),
                            ("manual", "Python call"),
                        ],
                        max_length=20,
                        verbose_name="through",
                    ),
                ),
                ("paused_before", models.BooleanField(verbose_name="paused before")),
                ("paused_after", models.BooleanField(verbose_name="paused after")),
                (
                    "schedule_before",
                    models.CharField(blank=True, max_length=100, verbose_name="schedule before"),
                ),
                (
                    "schedule_after",
                    models.CharField(blank=True, max_length=100, verbose_name="schedule after"),
                ),
                (
                    "confirmed",
                    models.BooleanField(
                        default=False,
                        help_text="The change starts destructive work and was confirmed after a dry run.",
                        verbose_name="confirmed",
                    ),
                ),
                (
                    "changed_by",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                        verbose_name="changed by",
                    ),
                ),
            ],
            options={
                "verbose_name": "task state change",
                "verbose_name_plural": "task state changes",
                "ordering": ["-changed_at", "-id"],
            },
        ),
        migrations.AddField(
            model_name="taskrun",
            name="state_change",
            field=models.ForeignKey(
                blank=True,
                help_text="For a scheduled run: the latest change of its task's pause state or schedule, which says who started the task's work.",
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="django_housekeeping.taskstatechange",
                verbose_name="after state change",
            ),
        ),
        migrations.AddIndex(
            model_name="taskstatechange",
            index=models.Index(
                fields=["task_name", "-changed_at", "-id"], name="housekeeping_state_change_task"
            ),
        ),
    ]

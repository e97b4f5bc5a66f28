# Cancelling a run: the request stored on it (cooperative, across processes) and the status.

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('django_housekeeping', '0012_run_trace_context'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='taskrun',
            name='cancel_requested_at',
            field=models.DateTimeField(blank=True, editable=False, help_text='When someone asked to cancel the run (it stops at its next progress step).', null=True, verbose_name='cancel requested'),
        ),
        migrations.AddField(
            model_name='taskrun',
            name='cancel_via',
            field=models.CharField(blank=True, choices=[('schedule', 'schedule'), ('cli', 'command line'), ('admin', 'admin'), ('api', 'API'), ('dashboard', 'dashboard'), ('manual', 'Python call')], db_default='', default='', editable=False, max_length=20, verbose_name='cancelled through'),
        ),
        migrations.AddField(
            model_name='taskrun',
            name='cancelled_by',
            field=models.ForeignKey(blank=True, editable=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='cancelled by'),
        ),
        migrations.AlterField(
            model_name='runday',
            name='status',
            field=models.CharField(choices=[('queued', 'queued'), ('running', 'running'), ('succeeded', 'succeeded'), ('failed', 'failed'), ('skipped', 'skipped'), ('missed', 'missed'), ('interrupted', 'interrupted'), ('cancelled', 'cancelled')], max_length=20, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='runtotal',
            name='status',
            field=models.CharField(choices=[('queued', 'queued'), ('running', 'running'), ('succeeded', 'succeeded'), ('failed', 'failed'), ('skipped', 'skipped'), ('missed', 'missed'), ('interrupted', 'interrupted'), ('cancelled', 'cancelled')], max_length=20, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='taskrun',
            name='status',
            field=models.CharField(choices=[('queued', 'queued'), ('running', 'running'), ('succeeded', 'succeeded'), ('failed', 'failed'), ('skipped', 'skipped'), ('missed', 'missed'), ('interrupted', 'interrupted'), ('cancelled', 'cancelled')], default='running', max_length=20, verbose_name='status'),
        ),
    ]

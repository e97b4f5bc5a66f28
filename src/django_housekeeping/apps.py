from django.apps import AppConfig
from django.core.signals import request_started
from django.utils.translation import gettext_lazy as _


class HousekeepingConfig(AppConfig):
    name = "django_housekeeping"
    label = "django_housekeeping"
    verbose_name = _("Housekeeping")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imports, discovery and signal wiring only: no query, no thread.
        from django_housekeeping.conf import checks  # noqa: F401  (registers the system checks)
        from django_housekeeping.monitoring import alerts, checkins, signal_handlers
        from django_housekeeping.scheduling.autostart import start_on_first_request
        from django_housekeeping.signals import (
            alert_raised,
            alert_resolved,
            task_finished,
            task_started,
        )
        from django_housekeeping.tasks.registry import autodiscover

        autodiscover()
        # Every finished run feeds the daily rollup and the alerts; alerts may be mailed.
        task_finished.connect(
            signal_handlers.run_finished, dispatch_uid="django_housekeeping.monitoring"
        )
        # Cron monitors (healthchecks.io, Cronitor, Sentry Crons) hear of each run.
        task_started.connect(checkins.run_started, dispatch_uid="django_housekeeping.checkins")
        task_finished.connect(checkins.run_finished, dispatch_uid="django_housekeeping.checkins")
        alert_raised.connect(alerts.mail_raised, dispatch_uid="django_housekeeping.mail_raised")
        alert_resolved.connect(
            alerts.mail_resolved, dispatch_uid="django_housekeeping.mail_resolved"
        )
        # Autostart is lazy: a serving process starts its scheduler on its first request.
        request_started.connect(
            start_on_first_request, dispatch_uid="django_housekeeping.scheduling.autostart"
        )

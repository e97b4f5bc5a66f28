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
        from django_housekeeping.scheduling.autostart import start_on_first_request
        from django_housekeeping.tasks.registry import autodiscover

        autodiscover()
        # Autostart is lazy: a serving process starts its scheduler on its first request.
        request_started.connect(
            start_on_first_request, dispatch_uid="django_housekeeping.scheduling.autostart"
        )

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HousekeepingConfig(AppConfig):
    name = "django_housekeeping"
    label = "django_housekeeping"
    verbose_name = _("Housekeeping")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Imports and discovery only: no query, no thread.
        from django_housekeeping import checks  # noqa: F401  (registers the system checks)
        from django_housekeeping.registry import autodiscover

        autodiscover()

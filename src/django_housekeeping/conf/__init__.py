"""The one settings table (``HOUSEKEEPING``) and the system checks generated from it."""

from django_housekeeping.conf.settings import housekeeping_settings

__all__ = ["housekeeping_settings"]

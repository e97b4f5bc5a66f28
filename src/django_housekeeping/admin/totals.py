"""The counters the metrics read (runs and deleted rows per task), read-only and left out of
the admin's index."""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from django_housekeeping.admin.base import ReadOnlyForViewers
from django_housekeeping.models import DeletionTotal, RunTotal


class InternalTable:
    """A table the library keeps for itself (the metrics' counters): reachable by its URL, left
    out of the admin's index, which lists what people work with."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return False


@admin.register(RunTotal)
class RunTotalAdmin(InternalTable, ReadOnlyForViewers[RunTotal]):
    """The counters the metrics read: finished non-dry runs per task and status."""

    list_display = fields = readonly_fields = ("task_name", "status", "runs", "seconds_display")
    list_filter = ("status",)
    ordering = ("task_name", "status")

    @admin.display(description=_("seconds"), ordering="seconds")
    def seconds_display(self, total: RunTotal) -> str:
        return f"{total.seconds:,.3f}"


@admin.register(DeletionTotal)
class DeletionTotalAdmin(InternalTable, ReadOnlyForViewers[DeletionTotal]):
    """The counters the metrics read: rows deleted per task and model."""

    list_display = fields = readonly_fields = ("task_name", "model", "rows")
    ordering = ("task_name", "model")

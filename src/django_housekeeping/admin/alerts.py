"""The alerts raised when tasks failed or were overdue, and when they were resolved:
read-only, linked to their runs."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from django_housekeeping.admin.base import ReadOnlyForViewers
from django_housekeeping.models import TaskAlert


@admin.register(TaskAlert)
class TaskAlertAdmin(ReadOnlyForViewers[TaskAlert]):
    """The alerts raised when tasks failed or were overdue, and when they were resolved."""

    list_display = ("task_name", "kind", "reason", "opened_at", "closed_at", "open")
    # An opened_at filter, no date_hierarchy: see TaskRunAdmin (MySQL's time zone tables).
    list_filter = ("kind", ("closed_at", admin.EmptyFieldListFilter), "opened_at", "task_name")
    search_fields = ("task_name", "reason")
    fields = readonly_fields = ("task_name", "kind", "reason", "run_link", "opened_at", "closed_at")

    @admin.display(description=_("open"), boolean=True)
    def open(self, alert: TaskAlert) -> bool:
        return alert.is_open

    @admin.display(description=_("run"))
    def run_link(self, alert: TaskAlert) -> str:
        if alert.run_id is None:
            return "—"
        url = reverse("admin:django_housekeeping_taskrun_change", args=[alert.run_id])
        return format_html('<a href="{}">#{}</a>', url, alert.run_id)

"""What the package's model admins build on: who the person is to the control layer, the
read-only admin of the library's records, and the run history's own permissions and URLs.

Who may do what is the control layer's decision (:mod:`django_housekeeping.running.control`),
as on every face; runs are dispatched, never executed in the request.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.contrib import admin
from django.db.models import Model
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from django_housekeeping.models import TaskRun
from django_housekeeping.running import control

# A page that waits for dry runs (a confirmation, a policy's preview) reloads itself this often.
CONFIRM_REFRESH_SECONDS = 2

_M = TypeVar("_M", bound=Model)

if TYPE_CHECKING:
    ModelAdmin = admin.ModelAdmin
else:

    class ModelAdmin(admin.ModelAdmin, Generic[_M]):
        """Django's ``ModelAdmin``, subscriptable when the code runs as it is in django-stubs
        (``ModelAdmin[TaskRun]``), so that each admin names its model once."""


def actor(request: HttpRequest) -> control.Actor:
    """The person behind an admin request, as the control layer knows them."""
    return control.person(request.user, TaskRun.Trigger.ADMIN)


def format_instant(value: datetime | None) -> str:
    """``"2026-01-02 03:04:05"`` in the current time zone; ``"—"`` for none."""
    if value is None:
        return "—"
    return f"{timezone.localtime(value):%Y-%m-%d %H:%M:%S}"


class ReadOnlyForViewers(ModelAdmin[_M]):
    """A model admin that shows its rows to those who may see the history (``view_taskrun``) and
    lets nobody add, change or delete one: they are the library's records, not forms. An admin
    whose rows another permission shows overrides ``has_view_permission``; the app is listed on
    the index to whoever may see them."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.has_view_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return control.allowed(actor(request), control.VIEW)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class RunAdminBase(ReadOnlyForViewers[TaskRun]):
    """The run history's admin, as its pages share it: who may start and pause tasks, and the
    URLs of its pages on this admin site."""

    def has_run_permission(self, request: HttpRequest) -> bool:
        return control.allowed(actor(request), control.RUN)

    def has_pause_permission(self, request: HttpRequest) -> bool:
        return control.allowed(actor(request), control.CHANGE)

    def _change_url(self, run: TaskRun) -> str:
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_taskrun_change",
            args=[run.pk],
            current_app=self.admin_site.name,
        )

    def _change_url_of(self, pk: int) -> str:
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_taskrun_change",
            args=[pk],
            current_app=self.admin_site.name,
        )

    def _tasks_url(self) -> str:
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_tasks",
            current_app=self.admin_site.name,
        )

    def _policies_url(self) -> str:
        return reverse(
            f"{self.admin_site.name}:django_housekeeping_policies",
            current_app=self.admin_site.name,
        )

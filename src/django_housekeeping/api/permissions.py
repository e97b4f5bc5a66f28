"""The API's default permission class: the housekeeping permissions, through the control layer."""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from django_housekeeping.models import TaskRun
from django_housekeeping.running import control


class HousekeepingPermission(BasePermission):
    """Allows what the control layer allows: ``view_taskrun`` to read, ``run_task`` to trigger,
    ``change_taskstate`` to pause or resume (each view names its action).

    It is ``HOUSEKEEPING["API_PERMISSION_CLASSES"]``'s default. The views check the same
    permissions whatever that setting says, so other classes there can only add conditions.
    """

    message = control.denial_message(control.VIEW)

    def has_permission(self, request: Request, view: Any) -> bool:
        action = (
            view.housekeeping_action(request)
            if hasattr(view, "housekeeping_action")
            else (control.VIEW)
        )
        self.message = control.denial_message(action)
        return control.allowed(control.person(request.user, TaskRun.Trigger.API), action)

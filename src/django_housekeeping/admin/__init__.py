"""Admin: the run history (read-only) with "run again" actions, the tasks page with run and pause
buttons, the confirmation page of a run that deletes, the retention policies and their previews,
the operators' per-task overrides (TaskState), legal holds and erasure records, the alerts, the
scheduler's lease and a read-only view of the job store.

One module a concern: ``runs`` (the history; its pages in ``tasks_page``, ``policy_pages`` and
``cancel``), ``states`` and ``state_changes`` (the overrides and the confirmation of destructive
work), ``holds`` and ``hold_actions`` (the records, and the actions projects give their admins),
``alerts``, ``scheduler``; ``base`` holds what they share.

Django's admin autodiscovery imports this package (``django_housekeeping.admin``): the modules
below that register model admins must be imported here, or their admins are not registered.
"""

from django_housekeeping.admin.alerts import TaskAlertAdmin
from django_housekeeping.admin.hold_actions import LegalHoldAdminMixin
from django_housekeeping.admin.holds import ErasureRecordAdmin, LegalHoldAdmin
from django_housekeeping.admin.runs import TaskRunAdmin
from django_housekeeping.admin.scheduler import JobStoreAdmin, SchedulerLeaseAdmin
from django_housekeeping.admin.states import TaskStateAdmin

__all__ = [
    "ErasureRecordAdmin",
    "JobStoreAdmin",
    "LegalHoldAdmin",
    "LegalHoldAdminMixin",
    "SchedulerLeaseAdmin",
    "TaskAlertAdmin",
    "TaskRunAdmin",
    "TaskStateAdmin",
]

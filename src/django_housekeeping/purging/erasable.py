"""The models no erasure may touch, whatever ``HOUSEKEEPING["ERASABLE_MODELS"]`` says.

An erasure deletes one row and what cascades from it. Some rows are not personal data but the
machinery that keeps other rows safe or says what happened: the legal holds, the erasure records
and the run history (this library's own models), the scheduler's job store, the content types
the holds point with, the permissions and groups, the sessions, the admin's log and the
migrations' record. Erasing one of them would break a hold or the audit trail, so they are refused
here, in the engine's :func:`~django_housekeeping.purging.erase.erase` itself, before anything
is recorded; the faces ask the control layer, which adds the deployment's scope
(``ERASABLE_MODELS``, docs/retention.md#erasure-scope) on top of this list.
"""

from __future__ import annotations

from django.db.models import Model

__all__ = ["DENIED_APPS", "DENIED_MODELS", "NotErasable", "denied", "refuse_denied"]

# Every model of these apps (by app label).
DENIED_APPS = frozenset(
    {
        "django_housekeeping",  # holds, erasure records, run history, the lease, the totals
        "django_apscheduler",  # the scheduler's job store and its executions
        "django_tasks_database",  # django-tasks-db's queue (the Tasks framework's runs)
        "contenttypes",  # what the holds point with
        "sessions",
        "admin",  # the admin's log (LogEntry)
    }
)
# These models of other apps.
DENIED_MODELS = frozenset({"auth.permission", "auth.group"})
# The migrations' record has no installed app: ``MigrationRecorder.Migration``'s table.
MIGRATIONS_TABLE = "django_migrations"


class NotErasable(ValueError):
    """An erasure of a model that is never erasable (or outside ``ERASABLE_MODELS``): nothing
    was deleted and no erasure record was written."""

    def __init__(self, label: str, why: str) -> None:
        self.label = label
        super().__init__(f"{label} is not erasable: {why}")


def _label(model: type[Model]) -> str:
    return f"{model._meta.app_label}.{model._meta.object_name}"


def denied(model: type[Model]) -> str | None:
    """Why ``model`` is never erasable (one phrase), or ``None`` when the denylist allows it.

    An automatically created many-to-many table is denied with the models it joins (a group's
    permissions, a user's groups).
    """
    meta = model._meta
    if meta.db_table == MIGRATIONS_TABLE:
        return "the migrations' record is never erased"
    if meta.app_label in DENIED_APPS:
        return f"the models of {meta.app_label} are never erased"
    if _label(model).lower() in DENIED_MODELS:
        return "permissions and groups are never erased"
    if meta.auto_created:
        for field in meta.get_fields():
            target = getattr(field, "related_model", None)
            if isinstance(target, type) and target is not model:
                why = denied(target)
                if why is not None:
                    return why
    return None


def refuse_denied(model: type[Model]) -> None:
    """Raise :class:`NotErasable` when ``model`` is never erasable."""
    why = denied(model)
    if why is not None:
        raise NotErasable(_label(model), why)

"""An erasure record as every face shows it."""

from __future__ import annotations

from typing import Any

from django_housekeeping.models import ErasureRecord
from django_housekeeping.models import is_count as _is_count


def erasure_as_dict(record: ErasureRecord) -> dict[str, Any]:
    """An erasure record as every face shows it (it holds no field value of the erased rows)."""
    deleted = {str(label): count for label, count in sorted((record.deleted or {}).items())}
    return {
        "id": record.pk,
        "model": record.model,
        "pk": record.object_pk,
        "status": record.status,
        "dry_run": record.dry_run,
        "reason": record.reason,
        "requested_by": record.requested_by.get_username() if record.requested_by else None,
        "requested_at": record.requested_at,
        "finished_at": record.finished_at,
        "deleted": deleted,
        "total": sum(count for count in deleted.values() if _is_count(count)),
        "protected": dict(sorted((record.protected or {}).items())),
        "held": list(record.held or []),
    }

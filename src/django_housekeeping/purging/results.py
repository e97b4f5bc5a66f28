"""What ``purge`` returns, and the two exceptions it raises on purpose.

Importable from :mod:`django_housekeeping.purging.engine` (and :mod:`django_housekeeping` for
:class:`PurgeResult` and :class:`PurgeLimitExceeded`), where the documentation names them.
"""

from __future__ import annotations

from typing import TypedDict

from django_housekeeping.purging.partitions import DroppedPartition
from django_housekeeping.purging.throttle import ThrottleResult


class PurgeResult(TypedDict):
    """What a purge deleted (or, in a dry run, would delete).

    ``deleted`` maps ``"app_label.Model"`` to rows, cascades included, and ``total`` sums it.
    ``protected`` counts the queryset's rows that were skipped because a ``PROTECT`` or
    ``RESTRICT`` relation forbids deleting them (or a row of their cascade), and ``protected_by``
    names those relations. ``held`` maps ``"app_label.Model"`` to the rows kept because of a
    legal hold: the queryset's rows that are held or whose deletion would cascade into a held
    row, and the rows their deletion would have cascaded to (held rows included). ``partial``
    is true when ``max_seconds`` stopped the purge early. ``dropped_partitions`` lists the
    partitions dropped whole (``{"name", "rows"}``; in a dry run, those that would be), and
    ``partitions`` says why rows of a partitioned table were deleted by batches instead (None on
    a table that is not partitioned, or when there is nothing to say): see
    :mod:`django_housekeeping.purging.partitions`. ``throttle`` is the time spent throttled
    (:class:`~django_housekeeping.purging.throttle.ThrottleResult`).
    """

    deleted: dict[str, int]
    total: int
    dry_run: bool
    protected: dict[str, int]
    protected_by: dict[str, int]
    held: dict[str, int]
    batches: int
    seconds: float
    rows_per_second: float
    max_batch_seconds: float
    partial: bool
    archive: str | None
    dropped_partitions: list[DroppedPartition]
    partitions: str | None
    throttle: ThrottleResult


class StopPurge(Exception):
    """Raised by a purge's ``progress`` callback to stop it between two batches (a cancelled or
    timed-out run): every committed batch stays committed, and the engine fills ``deleted`` with
    the rows deleted so far (``"app_label.Model"`` -> rows, cascades included) before it lets the
    exception through."""

    deleted: dict[str, int]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.deleted = {}


class PurgeLimitExceeded(Exception):
    """A purge would delete more than its ``max_rows`` or ``max_fraction`` allow.

    Raised before anything is deleted; pass ``force=True`` to purge anyway.
    """

    def __init__(
        self,
        message: str,
        *,
        label: str,
        selected: int,
        table_rows: int,
        max_rows: int | None,
        max_fraction: float | None,
    ) -> None:
        super().__init__(message)
        self.label = label
        self.selected = selected
        self.table_rows = table_rows
        self.max_rows = max_rows
        self.max_fraction = max_fraction

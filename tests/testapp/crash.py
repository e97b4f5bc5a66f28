"""The child processes of the crash-safety tests (tests/purging/test_crash.py, and
tests/purging/test_restore_resume.py for ``restore_main``).

Run as ``python -m django shell -c "from tests.testapp.crash import main; main()"``: purges in small
batches and, at the N-th ``DELETE`` on one table, announces itself in a marker file and holds its
transaction open until the test kills it with SIGKILL.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from django.db import connection

from django_housekeeping.purging.engine import purge
from django_housekeeping.purging.restore import restore
from tests.testapp.models import Document, Thread

QUERYSETS = {
    "threads": lambda: Thread.objects.filter(title__startswith="old"),
    "documents": lambda: Document.objects.filter(title__startswith="old"),
}


def hold_open_at(verb: str) -> Any:
    """A database execute wrapper that, at the ``HOUSEKEEPING_CRASH_AT``-th ``verb`` statement
    (``"DELETE FROM"``, ``"INSERT INTO"``) on ``HOUSEKEEPING_CRASH_TABLE``, announces this process
    in ``HOUSEKEEPING_CRASH_MARKER`` and holds the batch's transaction open until SIGKILL."""
    marker = Path(os.environ["HOUSEKEEPING_CRASH_MARKER"])
    table = os.environ["HOUSEKEEPING_CRASH_TABLE"]
    stop_at = int(os.environ["HOUSEKEEPING_CRASH_AT"])
    seen = 0

    def hold_open(execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        nonlocal seen
        result = execute(sql, params, many, context)
        words = sql.replace('"', " ").replace("`", " ").split()
        if words[:3] == [*verb.split(), table]:
            seen += 1
            if seen == stop_at:
                assert connection.in_atomic_block
                marker.write_text(str(os.getpid()))
                while True:  # inside the batch's transaction, until SIGKILL
                    time.sleep(1)
        return result

    return hold_open


def main() -> None:
    """Purge ``HOUSEKEEPING_CRASH_PURGE`` in batches of 4, held open at the N-th ``DELETE``."""
    archive = os.environ.get("HOUSEKEEPING_CRASH_ARCHIVE") or None
    with connection.execute_wrapper(hold_open_at("DELETE FROM")):
        purge(QUERYSETS[os.environ["HOUSEKEEPING_CRASH_PURGE"]](), batch_size=4, archive=archive)
    raise SystemExit("the purge finished before the test could kill it")


def restore_main() -> None:
    """Restore ``HOUSEKEEPING_CRASH_ARCHIVE``, held open at the N-th ``INSERT``."""
    with connection.execute_wrapper(hold_open_at("INSERT INTO")):
        restore(os.environ["HOUSEKEEPING_CRASH_ARCHIVE"])
    raise SystemExit("the restore finished before the test could kill it")

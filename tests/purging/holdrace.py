"""The child processes of the hold race tests (tests/purging/test_hold_race.py).

Run as ``python -m django shell -c "from tests.purging.holdrace import main; main()"`` with
``HOLDRACE_ROLE``:

- ``purge``: purges the old threads (``HOLDRACE_BATCH`` threads a batch, archived to
  ``HOLDRACE_ARCHIVE`` when set, pausing ``HOLDRACE_PAUSE`` times a batch's time after it) and
  writes the result to ``HOLDRACE_OUT``;
- ``place``: places legal holds, again and again, on old threads and posts just ahead of the
  purge (the lowest old threads left, within three batches), once per batch the purge commits,
  one JSON line per attempt in ``HOLDRACE_OUT``, until ``HOLDRACE_STOP`` exists or no old
  thread is left to hold;
- ``erase``: erases old threads just ahead of the purge the same way.

Every line says what was tried on which row and how it ended: ``placed``, ``refused`` (the
documented :class:`~django_housekeeping.holds.HoldRefused`), ``erased`` (with the rows the
erasure deleted), ``held`` (an erasure a hold was in the way of), or ``error`` (anything else:
the test fails on it).
"""

from __future__ import annotations

import json
import os
import random
import time
from pathlib import Path
from typing import Any

from django.db import close_old_connections

from django_housekeeping.purging import holds
from django_housekeeping.purging.engine import purge
from django_housekeeping.purging.erase import ErasureRefused, erase
from tests.testapp.models import Post, Thread


def old_threads() -> Any:
    return Thread.objects.filter(title__startswith="old")


def main() -> None:
    role = os.environ["HOLDRACE_ROLE"]
    out = Path(os.environ["HOLDRACE_OUT"])
    batch = int(os.environ["HOLDRACE_BATCH"])
    if role == "purge":
        archive = os.environ.get("HOLDRACE_ARCHIVE") or False
        pause = float(os.environ.get("HOLDRACE_PAUSE") or 0)
        result = purge(old_threads(), batch_size=batch, archive=archive, pause=pause)
        out.write_text(json.dumps({"deleted": result["deleted"], "held": result["held"]}))
        return
    race(role, out, batch, Path(os.environ["HOLDRACE_STOP"]))


def race(role: str, out: Path, batch: int, stop: Path) -> None:
    chooser = random.Random(os.getpid())
    kept: set[int] = set()  # threads this process's holds keep: the purge passes them by
    last = None
    with out.open("w") as lines:
        while not stop.exists():
            close_old_connections()
            ahead = list(
                old_threads()
                .exclude(pk__in=kept)
                .order_by("pk")
                .values_list("pk", flat=True)[: 3 * batch]
            )
            if not ahead:
                break
            if ahead[0] == last:  # one attempt per batch the purge commits
                time.sleep(0.01)
                continue
            last = ahead[0]
            thread_pk = chooser.choice(ahead)
            entry: dict[str, Any] = {"thread": thread_pk}
            try:
                if role == "erase":
                    entry.update(erase_one(thread_pk))
                else:
                    entry.update(place_one(thread_pk, child=chooser.random() < 0.5))
            except holds.HoldRefused:
                entry["outcome"] = "refused"
            except Exception as exc:  # the test reports it
                entry.update(outcome="error", error=f"{type(exc).__name__}: {exc}")
            if entry.get("outcome") == "placed":
                kept.add(thread_pk)
            lines.write(json.dumps(entry) + "\n")
            lines.flush()


def place_one(thread_pk: int, *, child: bool) -> dict[str, Any]:
    """Hold the thread, or one of its posts (which keeps the thread: a cascade)."""
    target: Thread | Post | None
    if child:
        target = Post.objects.filter(thread_id=thread_pk).order_by("pk").first()
    else:
        target = Thread.objects.filter(pk=thread_pk).first()
    if target is None:
        return {"outcome": "gone"}  # deleted before we could even read it: nothing tried
    holds.place(target, reason="Placed while a purge runs")
    return {"outcome": "placed", "model": "post" if child else "thread", "pk": target.pk}


def erase_one(thread_pk: int) -> dict[str, Any]:
    thread = Thread.objects.filter(pk=thread_pk).first()
    if thread is None:
        return {"outcome": "gone"}
    try:
        record = erase(thread, reason="Erased while a purge runs")
    except ErasureRefused:
        return {"outcome": "held"}
    return {"outcome": "erased", "status": record.status, "deleted": record.deleted}

"""The function every stored job calls: **a stable import path, never moved nor renamed.**

The job store pickles each job's callable by its textual reference,
``django_housekeeping.executors:run_scheduled_slot`` (the path of 0.1.0), and a leader of any
release must run the rows a leader of another release wrote (a rolling deploy changes leaders
back and forth). This module is only that entry point: the code behind it lives in
:mod:`django_housekeeping.scheduling.slots` and may move (docs/development.md#stable-import-paths).
"""

from __future__ import annotations

from django_housekeeping.scheduling.slots import run_scheduled_slot

__all__ = ["run_scheduled_slot"]

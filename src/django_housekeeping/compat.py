"""The one home of every private Django, DRF and APScheduler internal the package leans on.

Each internal is wrapped in a small function (or, for APScheduler's private hooks, a small base
class) named for what it does, with why the public API is not enough and what to use if the
internal disappears. The rest of the package calls these, never the internal itself
(``tests/test_compat.py`` enforces it), so a framework upgrade that breaks one is a one-file job.

This module imports only the frameworks, never the package's own modules: every layer may import
it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from apscheduler.events import JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from django.db.models import Field, Manager, Model, QuerySet
from django.db.models.base import ModelState
from django.db.models.deletion import get_candidate_relations_to_delete
from django.db.models.options import Options
from django.dispatch import Signal

# Django: the ORM -------------------------------------------------------------------------------
#
# purge() deletes what a queryset selects with the statements it plans itself, so it makes of the
# queryset what QuerySet.delete() makes of it, after the same refusals (QuerySet.delete()'s
# first lines). Django offers no public "the queryset delete() would run": if these go, copy what
# delete() does in the Django of the day.


def refuse_combined_query(queryset: QuerySet[Any], operation: str) -> None:
    """Raise ``NotSupportedError`` as ``QuerySet.delete()`` does on a ``union()``/
    ``intersection()``/``difference()`` queryset. Public alternative: test
    ``queryset.query.combinator`` and raise the same error."""
    queryset._not_support_combined_queries(operation)  # type: ignore[attr-defined]


def selects_values(queryset: QuerySet[Any]) -> bool:
    """Whether ``queryset`` came from ``values()``/``values_list()`` (delete() refuses those).
    No public equivalent: ``queryset.query.values_select`` comes closest, but is empty for a bare
    ``values()`` too. If it goes: check the queryset's iterable class against ``ModelIterable``."""
    return queryset._fields is not None  # type: ignore[attr-defined]


def writable_copy(queryset: QuerySet[Any]) -> QuerySet[Any]:
    """A copy of ``queryset`` routed as a write (``db_for_write``), as ``QuerySet.delete()``
    makes. Public alternative: ``queryset.using(router.db_for_write(queryset.model))`` — but
    that pins the alias where ``_for_write`` leaves it to the queryset's own routing."""
    copy: QuerySet[Any] = queryset._chain()  # type: ignore[attr-defined]
    copy._for_write = True  # type: ignore[attr-defined]
    return copy


def raw_delete(queryset: QuerySet[Any], using: str) -> int:
    """Delete the rows ``queryset`` selects with one ``DELETE`` statement: no collector, no
    signals, no cascade (the purge plan handles those), and the rows' count back.

    Speed: the public ``QuerySet.delete()`` first collects (a ``SELECT`` of the rows, or of their
    keys, per related model) even when nothing cascades; the planned purge, measured in
    docs/benchmarks.md, relies on one statement per table. Public alternative if this goes: a
    ``DELETE`` compiled from ``queryset.query`` with ``SQLDeleteCompiler``, or ``delete()`` and
    the collector's cost."""
    count: int = queryset._raw_delete(using)
    return count


def insert_raw(
    manager: Manager[Any], instances: Sequence[Model], fields: Sequence[Field[Any, Any]], using: str
) -> None:
    """One ``INSERT`` of ``instances`` as they are: what ``Model.save_base(raw=True)`` runs
    (``loaddata``'s path), many rows at a time.

    No public API: ``QuerySet.bulk_create()`` calls every field's ``pre_save()`` (``auto_now``
    fields would get the time of the restore) and refuses multi-table children;
    ``save_base(raw=True)`` is one statement per row (speed: ``benchmarks/restore.py`` measures
    the batched insert). If this goes: ``Model.save_base(raw=True)`` row by row."""
    manager._insert(  # type: ignore[attr-defined]
        list(instances), fields=list(fields), raw=True, using=using
    )


def candidate_relations_to_delete(opts: Options[Any]) -> Iterable[Any]:
    """The reverse relations a deletion of ``opts``'s model follows, the ones Django's
    ``Collector`` walks (one-to-one and many-to-one reverse relations, auto-created or not).

    No public API: the function is module-level in ``django.db.models.deletion`` and
    undocumented. If it goes: ``(f for f in opts.get_fields(include_hidden=True) if
    f.auto_created and not f.concrete and (f.one_to_one or f.one_to_many))`` — its body."""
    return get_candidate_relations_to_delete(opts)


def fresh_state(instance: Model) -> None:
    """Give an instance built with ``Model.__new__`` (without ``__init__``) its state object:
    not yet saved, no database.

    Speed: restore builds an instance per archived row; ``Model.__init__`` (``pre_init``/
    ``post_init`` signals, a pass per field) costs more than filling ``__dict__``.
    ``ModelState`` is not public. If it goes: ``model(**values)``, at ``__init__``'s cost."""
    instance._state = ModelState()


def mark_loaded(instance: Model, using: str) -> None:
    """Mark ``instance`` as a row saved in database ``using`` (what ``save()`` and ``from_db()``
    set), so its many-to-many managers accept it. ``Model._state`` is documented; its
    ``adding``/``db`` attributes are set here with the other underscore accesses so the rule
    "outside compat.py, no underscore attribute of a framework object" stays simple."""
    instance._state.db = using
    instance._state.adding = False


# Django: signals --------------------------------------------------------------------------------


def live_receivers(signal: Signal, sender: Any) -> list[Callable[..., Any]]:
    """The receivers ``signal.send(sender)`` would call, sync and async together.

    No public API: ``Signal.has_listeners()`` says whether there is one, never which; this is the
    lookup ``send()`` itself uses. Django 5.0+ returns ``(sync, async)``, older versions one
    list; both are handled. If it goes: ``signal.receivers`` (weak references, unfiltered by
    sender) resolved by hand."""
    live: Any = signal._live_receivers(sender)
    if isinstance(live, tuple):
        return [*live[0], *live[1]]
    return list(live)


# Django REST framework --------------------------------------------------------------------------


def readable_fields(serializer: Any) -> Iterable[Any]:
    """The fields ``serializer.to_representation()`` writes (not write-only ones), in order.

    No public API: DRF's ``to_representation()`` iterates this property. If it goes:
    ``(f for f in serializer.fields.values() if not f.write_only)`` — its body."""
    # DRF is an optional dependency (the [api] extra), the dashboard's layers must not import it
    # even for types (import-linter): a DRF serializer in, its fields out.
    fields: Iterable[Any] = serializer._readable_fields
    return fields


# APScheduler 3 --------------------------------------------------------------------------------
#
# APScheduler 3 ships no types and offers no public hook around its scheduler loop or its pool
# executor's submission; its 4.x rewrite changes both. These two base classes turn the private
# hooks into public methods for the package's subclasses.


def jobstore_alias(job: Any) -> str:
    """The alias of the job store ``job`` lives in: an executor must name it in the events it
    dispatches. No public API (APScheduler's own executors read this attribute). If it goes:
    the alias the scheduler was given (the package uses one job store)."""
    alias: str = job._jobstore_alias
    return alias


class HookedScheduler(BackgroundScheduler):  # type: ignore[misc]  # APScheduler 3 ships no types
    """APScheduler's background scheduler with two public hooks on its private loop:
    :meth:`may_process_jobs` (asked before each wake-up processes due jobs) and
    :meth:`loop_ended` (called in the scheduler's thread when its loop ends).

    No public API: ``_process_jobs()`` and ``_main_loop()`` are the loop's own steps. If they go:
    ``pause()`` the scheduler before ``shutdown()`` (a paused scheduler processes no job), and
    run a ``BlockingScheduler`` on a thread of our own that closes its connections when
    ``start()`` returns."""

    def may_process_jobs(self) -> bool:
        return True

    def loop_ended(self) -> None:
        pass

    def _process_jobs(self) -> float | None:
        if not self.may_process_jobs():
            return None
        wait_seconds: float | None = super()._process_jobs()
        return wait_seconds

    def _main_loop(self) -> None:
        try:
            super()._main_loop()
        finally:
            self.loop_ended()


class JobPoolExecutor(ThreadPoolExecutor):  # type: ignore[misc]  # APScheduler 3 ships no types
    """APScheduler's thread pool executor that runs :meth:`run_job` (to override) on its pool
    instead of APScheduler's own ``run_job``, and reports the events it returns (or its error)
    the way APScheduler's executors do.

    No public API: ``_do_submit_job()``, ``_pool``, ``_run_job_success()`` and
    ``_run_job_error()`` are the pool executor's internals. If they go: an executor of our own
    on a ``concurrent.futures`` pool, reporting each slot's outcome as APScheduler's job events
    through the scheduler's public listeners."""

    def run_job(self, job: Any, run_times: list[datetime]) -> list[JobExecutionEvent]:
        raise NotImplementedError

    def _do_submit_job(self, job: Any, run_times: list[datetime]) -> None:
        def done(future: Any) -> None:
            exception = future.exception()
            if exception is not None:
                self._run_job_error(job.id, exception, exception.__traceback__)
            else:
                self._run_job_success(job.id, future.result())

        future = self._pool.submit(self.run_job, job, run_times)
        future.add_done_callback(done)

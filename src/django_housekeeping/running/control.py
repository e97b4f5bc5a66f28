"""The control layer: who may do what, and how a request to run or pause becomes an action.

Every face — the admin, the staff dashboard, the API, the command line — asks this module to
trigger runs, pause or resume a task, or override its schedule, and to check that a person may see
the history. It alone checks permissions, validates task names and schedules with one set of
messages, throttles people, records who asked, and dispatches. A face parses and presents.

The permission model (docs/permissions.md), the same on every face:

- ``VIEW``: ``django_housekeeping.view_taskrun`` — the dashboard, the API's reads, the history.
- ``RUN``: ``django_housekeeping.run_task`` — run or dry-run tasks, groups and ``all``.
- ``CHANGE``: ``django_housekeeping.change_taskstate`` — pause; resume and override a schedule
  with ``RUN`` too (they start the task's work; a destructive task's dry run is confirmed first).
- ``HOLD``: ``django_housekeeping.change_legalhold`` — place and release legal holds.
- ``ERASE``: ``django_housekeeping.add_erasurerecord`` — carry out erasure requests.
- The metrics: ``VIEW``, or a scraper's bearer token (``METRICS_TOKEN``).

Superusers have every permission; ``is_staff`` alone grants none (only the admin login). The
command line acts as the system (:data:`SYSTEM`): it may do everything.

No run a person starts executes in their request: :func:`trigger` records the runs ``queued`` and
hands them to a thread of this process, or with ``HOUSEKEEPING["EXECUTOR"] = "django_tasks"``
enqueues them for a worker of Django's Tasks framework
(:func:`~django_housekeeping.running.runner.start_runs`). Only :func:`run_here` executes in the
calling process, for the command line (which can :func:`trigger` too: ``run --via-executor``).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeGuard

from django.apps import apps
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import router, transaction
from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.conf.settings import parse_rate
from django_housekeeping.models import (
    ErasureRecord,
    LegalHold,
    TaskRun,
    TaskState,
    TaskStateChange,
)
from django_housekeeping.purging import holds
from django_housekeeping.purging.erasable import NotErasable as EngineNotErasable
from django_housekeeping.purging.erase import ErasurePreview, ErasureRefused
from django_housekeeping.purging.erase import erase as erase_object
from django_housekeeping.purging.erase import preview as erasure_preview
from django_housekeeping.running import cancel as cancelling
from django_housekeeping.running.erasure_scope import refusal as erasure_refusal
from django_housekeeping.running.runner import AlreadyRunning, DispatchedRun, run_task, start_runs
from django_housekeeping.running.throttle import take
from django_housekeeping.tasks.context import (
    NoteObserver,
    ProgressObserver,
    forcing_purge_limits,
    observe_progress,
)
from django_housekeeping.tasks.registry import registry
from django_housekeeping.tasks.schedules import InvalidSchedule, parse_schedule

VIEW = "view"
RUN = "run"
CHANGE = "change"
HOLD = "hold"
ERASE = "erase"
START = "start"  # not a permission: CHANGE and RUN together (resume, reschedule)

PERMISSIONS = {
    VIEW: "django_housekeeping.view_taskrun",
    RUN: "django_housekeeping.run_task",
    CHANGE: "django_housekeeping.change_taskstate",
    HOLD: "django_housekeeping.change_legalhold",
    ERASE: "django_housekeeping.add_erasurerecord",
}
_DENIED = {
    VIEW: "You may not see the housekeeping history: that needs the permission "
    '"django_housekeeping.view_taskrun".',
    RUN: 'You may not run housekeeping tasks: that needs the permission "django_housekeeping.'
    'run_task".',
    CHANGE: "You may not pause, resume or reschedule housekeeping tasks: that needs the "
    'permission "django_housekeeping.change_taskstate".',
    HOLD: "You may not place or release legal holds: that needs the permission "
    '"django_housekeeping.change_legalhold".',
    ERASE: "You may not carry out erasure requests: that needs the permission "
    '"django_housekeeping.add_erasurerecord".',
    START: "You may not resume or reschedule housekeeping tasks: that starts their work, so it "
    'needs the permission "django_housekeeping.run_task" besides '
    '"django_housekeeping.change_taskstate" (pausing needs only the latter).',
}

User = AbstractBaseUser | AnonymousUser


@dataclass(frozen=True)
class Actor:
    """Who asks, and through which face (a :class:`~django_housekeeping.models.TaskRun.Trigger`).

    ``user`` is ``None`` for the system (the command line, the scheduler, Python code), which may
    do everything and is not throttled.
    """

    user: User | None
    via: str

    @property
    def is_system(self) -> bool:
        return self.user is None

    @property
    def recorded_user(self) -> AbstractBaseUser | None:
        """The user the runs and state changes are recorded as started by."""
        return self.user if isinstance(self.user, AbstractBaseUser) else None


SYSTEM = Actor(None, TaskRun.Trigger.CLI)


def person(user: User, via: str) -> Actor:
    """A person asking through a face; an anonymous user is a person too (who may do nothing)."""
    return Actor(user, via)


# -- errors: one class per answer a face gives ---------------------------------------------------


class ControlError(Exception):
    """A request the control layer refuses; ``status`` is the HTTP status a web face answers."""

    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotAuthenticated(ControlError):
    status = 401


class Forbidden(ControlError):
    status = 403


class InvalidRequest(ControlError):
    status = 400


class UnknownTask(InvalidRequest):
    """A name that is no registered task; the message names the valid ones."""

    def __init__(self, names: Sequence[str], valid: Iterable[str]) -> None:
        self.names = list(names)
        self.valid = sorted(valid)
        listed = ", ".join(repr(name) for name in self.names)
        super().__init__(
            f"Unknown task {listed}; valid tasks: {', '.join(self.valid) or '(none)'}."
        )


class Conflict(ControlError):
    """The task already has a queued or running run."""

    status = 409

    def __init__(self, exc: AlreadyRunning) -> None:
        super().__init__(f"{exc}.")
        self.task_name = exc.task_name
        self.running = exc.running


class NotFound(ControlError):
    status = 404


class UnknownModel(NotFound):
    """A model label no installed app has (the API answers 404: no such resource)."""


class NotErasable(InvalidRequest):
    """A model no erasure may touch (never erasable, or outside ``ERASABLE_MODELS``): refused
    before anything is looked up, deleted or recorded."""


class NeedsConfirmation(ControlError):
    """Resuming or rescheduling a destructive task asks its dry run's confirmation first: the
    face shows it, then asks again with ``confirmed=True``. Nothing changed."""

    status = 409

    def __init__(self, task: str) -> None:
        super().__init__(
            f"{task} deletes rows: resuming or rescheduling it starts that work, so confirm it "
            "after its dry run."
        )
        self.task = task


class Held(ControlError):
    """An erasure legal holds are in the way of; ``held_rows`` names them. Nothing was deleted."""

    status = 409

    def __init__(self, exc: ErasureRefused) -> None:
        super().__init__(f"{str(exc)[0].upper()}{str(exc)[1:]}.")
        self.held_rows = exc.held_rows
        self.record = exc.record


class Throttled(ControlError):
    status = 429

    def __init__(self, retry_after: float, limit: int, period: int) -> None:
        seconds = max(int(retry_after + 0.999), 1)
        super().__init__(
            f"Too many runs started: {limit} per {period} s are allowed. Try again in {seconds} s."
        )
        self.retry_after = seconds


# -- permissions ----------------------------------------------------------------------------------


def allowed(actor: Actor, action: str) -> bool:
    """Whether ``actor`` may do ``action`` (:data:`VIEW`, :data:`RUN`, :data:`CHANGE`,
    :data:`HOLD` or :data:`ERASE`)."""
    if action not in PERMISSIONS:
        raise ValueError(f"unknown action {action!r}; valid: {', '.join(PERMISSIONS)}")
    if actor.user is None:
        return True
    # A custom user model without PermissionsMixin has no permissions to check: it may do nothing.
    has_perm = getattr(actor.user, "has_perm", None)
    return bool(actor.user.is_active and callable(has_perm) and has_perm(PERMISSIONS[action]))


def require(actor: Actor, action: str) -> None:
    """Raise :class:`NotAuthenticated` or :class:`Forbidden` unless ``actor`` may do ``action``."""
    if allowed(actor, action):
        return
    if actor.user is not None and not actor.user.is_authenticated:
        raise NotAuthenticated(_("Log in first: housekeeping needs an account."))
    raise Forbidden(_DENIED[action])


def denial_message(action: str) -> str:
    return _DENIED[action]


def require_metrics_reader(actor: Actor, authorization: str) -> None:
    """A scraper that sends ``Authorization: Bearer <METRICS_TOKEN>`` may read the metrics, and
    so may whoever may see the history; :class:`NotAuthenticated` or :class:`Forbidden`
    otherwise (a wrong token is no login: not authenticated)."""
    if _bearer_matches(authorization, housekeeping_settings.METRICS_TOKEN):
        return
    if actor.user is not None and not actor.user.is_authenticated:
        raise NotAuthenticated(_("Send Authorization: Bearer <METRICS_TOKEN>, or log in."))
    require(actor, VIEW)


def _bearer_matches(authorization: str, token: str | None) -> bool:
    scheme, _space, sent = authorization.partition(" ")
    if not token or scheme.lower() != "bearer" or not sent.strip():
        return False
    return hmac.compare_digest(sent.strip().encode(), token.encode())


# -- validation -----------------------------------------------------------------------------------


def task_names(value: object) -> list[str]:
    """A task name or a non-empty list of them, each registered (``"all"`` included), without
    duplicates; :class:`InvalidRequest` or :class:`UnknownTask` otherwise."""
    if isinstance(value, str):
        names = [value]
    elif isinstance(value, list | tuple) and value and all(isinstance(n, str) for n in value):
        names = list(dict.fromkeys(value))
    else:
        raise InvalidRequest(
            "Say which task to run: a task name or a non-empty list of task names; valid "
            f"tasks: {', '.join(registry.names())}."
        )
    unknown = [name for name in names if name not in registry]
    if unknown:
        raise UnknownTask(unknown, registry.names())
    return names


def schedule_override(value: object) -> str:
    """A cron expression replacing a task's schedule, with its spaces normalised (``""``: none);
    :class:`InvalidRequest` with the parser's message otherwise."""
    text = " ".join(str(value or "").split())
    if text:
        try:
            parse_schedule(text)
        except InvalidSchedule as exc:
            raise InvalidRequest(str(exc)) from None
    return text


def task_name(value: object) -> str:
    """One registered task or group (not ``"all"``, which has no state of its own), or the name of
    a stored state whose task is no longer registered (so that it can still be changed)."""
    if isinstance(value, str) and value in registry.as_mapping():
        return value
    if storable(value) and TaskState.objects.filter(task_name=value).exists():
        return value
    raise UnknownTask([str(value)], registry.as_mapping())


def run_history_task(value: object) -> str:
    """A name to filter the run history by: a registered task or group, ``"all"``, or a name
    with recorded runs (a task since removed); :class:`UnknownTask` otherwise — a typo is not an
    empty history."""
    if isinstance(value, str) and value in registry:
        return value
    if storable(value) and TaskRun.objects.filter(task_name=value).exists():
        return value
    raise UnknownTask([str(value)], registry.names())


def storable(value: object) -> TypeGuard[str]:
    """A non-empty string a database can compare: no NUL, which PostgreSQL refuses in a text
    value (a ``DataError``, a 500, rather than an unknown name)."""
    return isinstance(value, str) and bool(value) and "\x00" not in value


# -- runs -----------------------------------------------------------------------------------------


def trigger(actor: Actor, names: object, *, dry_run: bool = False) -> list[DispatchedRun]:
    """Start a run of each named task outside the request: recorded ``queued``, then executed by
    a thread of this process or (``"django_tasks"`` executor) by a worker. All or nothing
    (:class:`Conflict` when one is already active)."""
    require(actor, RUN)
    validated = task_names(names)
    if not isinstance(dry_run, bool):
        raise InvalidRequest("dry_run must be true or false.")
    _throttle(actor)
    try:
        return start_runs(validated, dry_run=dry_run, trigger=actor.via, user=actor.recorded_user)
    except AlreadyRunning as exc:
        raise Conflict(exc) from None


def enqueue(actor: Actor, names: object, *, dry_run: bool = False) -> list[DispatchedRun]:
    """:func:`trigger` for runs that must go to the Tasks framework's workers (the command
    line's ``run --via-executor``): :class:`InvalidRequest` unless the executor is
    ``"django_tasks"`` (a thread of a command that exits would not outlive it)."""
    if housekeeping_settings.EXECUTOR != "django_tasks":
        raise InvalidRequest(
            'Runs go to the workers only with HOUSEKEEPING["EXECUTOR"] = "django_tasks" (it is '
            f"{housekeeping_settings.EXECUTOR!r}); run the tasks here instead."
        )
    return trigger(actor, names, dry_run=dry_run)


@dataclass
class Outcome:
    """What :func:`run_here` did: the runs it executed and the tasks already running elsewhere."""

    runs: list[TaskRun] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)


def run_here(
    actor: Actor,
    names: object,
    *,
    dry_run: bool = False,
    force: bool = False,
    progress: ProgressObserver | None = None,
    notes: NoteObserver | None = None,
    after_each: Callable[[TaskRun], None] | None = None,
) -> Outcome:
    """Run the named tasks one after the other in this process (the command line: not a request).

    A task that already has an active run is not run; its :class:`Conflict` is reported.
    ``force`` lets purges exceed their limits; ``progress`` observes ``ctx.progress`` calls and
    ``notes`` the ``ctx.note`` calls.
    """
    require(actor, RUN)
    validated = task_names(names)
    outcome = Outcome()
    with (
        forcing_purge_limits() if force else nullcontext(),
        observe_progress(progress, notes=notes) if progress is not None else nullcontext(),
    ):
        for name in validated:
            try:
                run = run_task(
                    name,
                    dry_run=dry_run,
                    trigger=actor.via,
                    user=actor.recorded_user,
                    if_running="raise",
                )
            except AlreadyRunning as exc:
                outcome.conflicts.append(Conflict(exc))
                continue
            outcome.runs.append(run)
            if after_each is not None:
                after_each(run)
    return outcome


def cancel(actor: Actor, run_id: object) -> cancelling.Cancelled:
    """Cancel the run ``run_id`` for ``actor`` (who needs :data:`RUN`): a queued run ends
    ``cancelled`` at once, a running one stops at its next progress step
    (:mod:`~django_housekeeping.running.cancel`). :class:`NotFound` for an unknown id,
    :class:`NotActive` when the run has ended or its cancel was already asked."""
    require(actor, RUN)
    if isinstance(run_id, bool) or not str(run_id).strip().isdigit():
        raise NotFound(f"No run has the id {str(run_id)[:50]!r}.")
    run = TaskRun.objects.filter(pk=int(str(run_id).strip())).first()
    if run is None:
        raise NotFound(f"No run has the id {str(run_id)[:50]!r}.")
    try:
        return cancelling.request(run, user=actor.recorded_user, via=actor.via)
    except cancelling.NotActive as exc:
        raise NotActive(str(exc)) from None


class NotActive(ControlError):
    """The run to cancel has ended, or its cancel was already asked."""

    status = 409


def _throttle(actor: Actor) -> None:
    """People share one budget of triggers per period, on every face and in every process."""
    if actor.user is None or not actor.user.is_authenticated:
        return
    rate = parse_rate(housekeeping_settings.TRIGGER_THROTTLE_RATE)
    if rate is None:
        return
    refusal = take(f"user:{actor.user.pk}", rate)
    if refusal is not None:
        raise Throttled(refusal.retry_after, rate.limit, rate.period)


# -- task state -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StateChange:
    """What a pause, resume or schedule override did, with one message for every face."""

    task: str
    paused: bool
    schedule: str
    changed: bool
    detail: str


def pause(actor: Actor, name: object) -> StateChange:
    return set_state(actor, name, paused=True)


def resume(actor: Actor, name: object) -> StateChange:
    return set_state(actor, name, paused=False)


def set_state(
    actor: Actor,
    name: object,
    *,
    paused: bool | None = None,
    schedule: str | None = None,
    confirmed: bool = False,
) -> StateChange:
    """Pause or resume a task and/or replace its schedule (``""`` keeps the task's own); the
    scheduler follows within seconds. Records who asked on the task's state row, and the change
    (before → after) as a :class:`~django_housekeeping.models.TaskStateChange`.

    Pausing needs :data:`CHANGE`. Resuming a paused task or changing its schedule starts its work:
    that needs :data:`RUN` as well, and for a destructive task ``confirmed`` — the face showed the
    dry run's confirmation (:class:`NeedsConfirmation` otherwise: nothing changed). The command
    line and the API confirm by asking (docs/permissions.md#starting-destructive-work).
    """
    require(actor, CHANGE)
    validated = task_name(name)
    if schedule is not None:
        schedule = schedule_override(schedule)
    if not isinstance(confirmed, bool):
        raise InvalidRequest("confirmed must be true or false.")
    with transaction.atomic(using=router.db_for_write(TaskState)):
        state = TaskState.objects.select_for_update().filter(task_name=validated).first()
        before = (state.paused, state.schedule) if state is not None else (False, "")
        after = (
            before[0] if paused is None else paused,
            before[1] if schedule is None else schedule,
        )
        changed = after != before
        starts = starts_work(before, after)
        if starts:
            require_start(actor)
            if is_destructive(validated) and not confirmed:
                raise NeedsConfirmation(validated)
        if changed:
            if state is None:
                state = TaskState(task_name=validated)
            state.paused, state.schedule = after
            state.updated_by = actor.recorded_user  # type: ignore[assignment]
            state.save()
            TaskStateChange.objects.create(
                task_name=validated,
                changed_by=actor.recorded_user,  # type: ignore[misc]
                via=actor.via,
                paused_before=before[0],
                paused_after=after[0],
                schedule_before=before[1],
                schedule_after=after[1],
                confirmed=starts and is_destructive(validated) and confirmed,
            )
    return StateChange(
        task=validated,
        paused=after[0],
        schedule=after[1],
        changed=changed,
        detail=_state_message(validated, before, after, paused, schedule),
    )


def starts_work(before: tuple[bool, str], after: tuple[bool, str]) -> bool:
    """Whether going from ``before`` to ``after`` (paused, schedule override) starts a task's
    work: resuming it, or setting, changing or removing the schedule override of a task that is
    not paused afterwards (a paused task's new schedule starts nothing until it is resumed)."""
    return not after[0] and (before[0] or before[1] != after[1])


def is_destructive(name: str) -> bool:
    """Whether the task (or group) ``name`` may delete rows (``destructive=True``, the default);
    a stored state whose task is gone is not scheduled, so starts nothing."""
    return name in registry and registry.is_destructive(name)


def require_start(actor: Actor) -> None:
    """Resuming or rescheduling needs :data:`RUN` besides :data:`CHANGE`."""
    if not allowed(actor, RUN):
        require(actor, RUN)  # NotAuthenticated for a visitor
        raise Forbidden(_DENIED[START])


def may_start(actor: Actor) -> bool:
    """Whether ``actor`` may resume or reschedule tasks (:data:`CHANGE` and :data:`RUN`)."""
    return allowed(actor, CHANGE) and allowed(actor, RUN)


def _state_message(
    name: str,
    before: tuple[bool, str],
    after: tuple[bool, str],
    paused: bool | None,
    schedule: str | None,
) -> str:
    if after == before:
        if paused is not None and schedule is None:
            return (
                f"Nothing to do: {name} was already paused."
                if paused
                else f"Nothing to do: {name} was not paused."
            )
        return f"Nothing to do: {name} is unchanged."
    done = []
    if after[0] != before[0]:
        done.append(f"Paused {name}." if after[0] else f"Resumed {name}.")
    if after[1] != before[1]:
        done.append(
            f"{name} now follows {after[1]}."
            if after[1]
            else f"{name} follows its own schedule again."
        )
    return " ".join([*done, "The scheduler picks this up within seconds."])


# -- legal holds and erasure requests ---------------------------------------------------------


def model_named(label: object) -> type[Model]:
    """The model ``"app_label.Model"`` names; :class:`InvalidRequest` for a text that is no
    such label, :class:`UnknownModel` for a model no installed app has."""
    text = label if isinstance(label, str) else ""
    app_label, dot, model_name = text.partition(".")
    if not dot or not app_label or not model_name or "." in model_name:
        raise InvalidRequest(f"Name the model as app_label.Model, got {label!r}.")
    try:
        return apps.get_model(app_label, model_name)
    except LookupError:
        raise UnknownModel(f"Unknown model {text!r}: no installed app has it.") from None


def erasable(model: type[Model]) -> bool:
    """Whether an erasure may delete rows of ``model`` (docs/retention.md#erasure-scope): not
    one of the models never erased, and in ``ERASABLE_MODELS``."""
    return erasure_refusal(model) is None


def erasable_model(label: object) -> type[Model]:
    """:func:`model_named`, then :class:`NotErasable` unless an erasure may touch that model."""
    model = model_named(label)
    why = erasure_refusal(model)
    if why is not None:
        raise NotErasable(why)
    return model


def find_object(label: object, pk: object) -> Model:
    """The row to erase: of the model ``label`` names, with primary key ``pk`` (text or a
    number); :class:`InvalidRequest` for a label that is no ``app_label.Model``,
    :class:`UnknownModel`, :class:`NotErasable` for a model no erasure may touch (checked before
    any row is read), and :class:`NotFound` when no row has that key (or it is no key of the
    model)."""
    model = erasable_model(label)
    if isinstance(pk, bool) or not isinstance(pk, str | int) or str(pk).strip() == "":
        raise InvalidRequest("Give the primary key as a string or an integer.")
    pk_field = model._meta.pk
    assert pk_field is not None
    try:
        key = pk_field.to_python(str(pk).strip())
        return model._base_manager.get(pk=key)
    except (ValidationError, ValueError, TypeError, OverflowError):
        raise NotFound(f"{str(pk)[:50]!r} is no primary key of {model._meta.label}.") from None
    except ObjectDoesNotExist:
        raise NotFound(f"No {model._meta.label} has the primary key {str(pk)[:50]!r}.") from None


def reason_text(value: object) -> str:
    """A non-empty reason (holds and erasures need one); :class:`InvalidRequest` otherwise."""
    # ASCII whitespace only: the API's schema says the same (its patterns are ECMA's).
    text = value.strip(holds.BLANK) if isinstance(value, str) else ""
    if not text:
        raise InvalidRequest("Give a reason: it is kept with the record.")
    return text


def place_hold(
    actor: Actor, obj: Model, *, reason: object, until: datetime | None = None
) -> LegalHold:
    """Place a legal hold on ``obj`` for ``actor`` (who needs :data:`HOLD`)."""
    require(actor, HOLD)
    text = reason_text(reason)
    try:
        return holds.place(obj, reason=text, user=actor.recorded_user, until=until)
    except ObjectDoesNotExist:
        raise NotFound(f"{obj._meta.label} {obj.pk} no longer exists.") from None
    except (ValueError, TypeError) as exc:
        raise InvalidRequest(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None


def release_holds(actor: Actor, selected: QuerySet[LegalHold]) -> int:
    """Release the selected holds that are not released yet (``actor`` needs :data:`HOLD`)."""
    require(actor, HOLD)
    return holds.release_holds(selected, user=actor.recorded_user)


def erase(
    actor: Actor, label: object, pk: object, *, reason: object, dry_run: object = False
) -> ErasureRecord:
    """Carry out (or, with ``dry_run``, preview) the erasure of one row for ``actor`` (who needs
    :data:`ERASE`); :class:`Held` when legal holds are in the way (nothing deleted)."""
    require(actor, ERASE)
    if not isinstance(dry_run, bool):
        raise InvalidRequest("dry_run must be true or false.")
    obj = find_object(label, pk)
    text = reason_text(reason)
    try:
        return erase_object(obj, reason=text, requested_by=actor.recorded_user, dry_run=dry_run)
    except ErasureRefused as exc:
        raise Held(exc) from None
    except EngineNotErasable as exc:
        raise NotErasable(f"{exc}.") from None


def preview_erasure(actor: Actor, obj: Model) -> ErasurePreview:
    """The blast radius of erasing ``obj`` (``actor`` needs :data:`ERASE`, and the model must be
    erasable); nothing recorded."""
    require(actor, ERASE)
    why = erasure_refusal(type(obj))
    if why is not None:
        raise NotErasable(why)
    return erasure_preview(obj)


def may_erase(actor: Actor, model: type[Model]) -> bool:
    """Whether ``actor`` may erase rows of ``model``: the admin offers its erase action then."""
    return allowed(actor, ERASE) and erasable(model)


def may_see_erasures(actor: Actor) -> bool:
    """Whoever may see the history or carry out erasures may see the erasure records."""
    return allowed(actor, VIEW) or allowed(actor, ERASE)

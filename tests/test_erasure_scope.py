"""Erasure scope: the models never erasable (whatever ``ERASABLE_MODELS`` says) are refused on
every face — the library's ``erase()``, the API (dry runs included), ``housekeeping erase`` and
the admin's action — with nothing deleted and no erasure record; ``ERASABLE_MODELS`` and its
default decide for the rest; ``E015`` for a label that names nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.admin.models import ADDITION, LogEntry
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.core.exceptions import PermissionDenied
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Model
from django.test import RequestFactory, override_settings
from django.utils import timezone
from django_apscheduler.models import DjangoJob
from django_tasks_db.models import DBTaskResult

from django_housekeeping import erase, holds
from django_housekeeping.admin import LegalHoldAdminMixin
from django_housekeeping.conf.checks import check_erasable_models, check_settings
from django_housekeeping.models import ErasureRecord, SchedulerLease, TaskState
from django_housekeeping.purging.erasable import NotErasable
from django_housekeeping.running import control
from django_housekeeping.running.erasure_scope import default_labels
from tests.helpers import API, SHORT_TEST_KEY, client_for, housekeeping, make_run, make_user
from tests.procapp.models import SoloRecord
from tests.testapp.models import Thread

pytestmark = [pytest.mark.django_db, SHORT_TEST_KEY]


def _thread() -> Thread:
    return Thread.objects.create(title="t", created_at=timezone.now())


def _group_permission() -> Model:
    group = Group.objects.create(name="editors")
    group.permissions.add(Permission.objects.first())
    row: Model = Group.permissions.through.objects.get()
    return row


# One row of every model never erasable.
DENIED: dict[str, Callable[[], Model]] = {
    "django_housekeeping.LegalHold": lambda: holds.place(_thread(), reason="Court order"),
    "django_housekeeping.ErasureRecord": lambda: ErasureRecord.objects.create(
        model="testapp.Thread", object_pk="1", reason="earlier request"
    ),
    "django_housekeeping.TaskRun": lambda: make_run("threads"),
    "django_housekeeping.TaskState": lambda: TaskState.objects.create(task_name="threads"),
    "django_housekeeping.SchedulerLease": lambda: SchedulerLease.objects.create(
        name="scheduler", expires_at=timezone.now()
    ),
    "django_apscheduler.DjangoJob": lambda: DjangoJob.objects.create(
        id="job-1", next_run_time=None, job_state=b"state"
    ),
    "django_tasks_database.DBTaskResult": lambda: DBTaskResult.objects.create(
        args_kwargs={}, task_path="x.y", backend_name="default", run_after=timezone.now()
    ),
    "contenttypes.ContentType": lambda: ContentType.objects.get_for_model(Thread),
    "auth.Permission": lambda: Permission.objects.get(codename="run_task"),
    "auth.Group": lambda: Group.objects.create(name="operators"),
    "auth.Group_permissions": _group_permission,
    "sessions.Session": lambda: Session.objects.create(
        session_key="k" * 32, session_data="data", expire_date=timezone.now() + timedelta(days=1)
    ),
    "admin.LogEntry": lambda: LogEntry.objects.create(
        user=make_user("logged"), action_flag=ADDITION, object_repr="x", change_message=""
    ),
    "migrations.Migration": lambda: MigrationRecorder.Migration.objects.first(),
}
FACES = ["erase()", "api", "api dry run", "command", "command dry run", "admin action"]


def _exists(row: Model) -> bool:
    return type(row)._base_manager.filter(pk=row.pk).exists()


def _admin_actions(model: type[Model], user: Any) -> dict[str, Any]:
    """The actions the mixin's ``ModelAdmin`` offers ``user`` on ``model``'s change list."""
    model_admin = type("ScopeAdmin", (LegalHoldAdminMixin, admin.ModelAdmin), {})(
        model, admin.AdminSite(name="scope")
    )
    request = RequestFactory().get("/")
    request.user = user
    actions: dict[str, Any] = model_admin.get_actions(request)
    return actions


@pytest.mark.usefixtures("api_settings")
@pytest.mark.parametrize("setting", ["default", "naming it"])
@pytest.mark.parametrize("face", FACES)
@pytest.mark.parametrize("label", list(DENIED))
def test_a_model_never_erasable_is_refused_on_every_face(
    label: str, face: str, setting: str
) -> None:
    row = DENIED[label]()
    assert row is not None, "every denied model has a row to erase"
    model = type(row)
    # "Whatever the setting": naming the model (and its app) does not make it erasable.
    scope = None if setting == "default" else [label, f"{label.split('.')[0]}.*", "testapp.*"]
    records = ErasureRecord.objects.count()
    dpo = make_user("dpo", superuser=True)
    with override_settings(HOUSEKEEPING={"ERASABLE_MODELS": scope}):
        if face == "erase()":
            with pytest.raises(NotErasable, match="is not erasable"):
                erase(row, reason="Request #7", dry_run=False)
        elif face.startswith("api"):
            response = client_for(dpo).post(
                f"{API}erasures",
                {
                    "model": label,
                    "pk": str(row.pk),
                    "reason": "Request #7",
                    "dry_run": "dry" in face,
                },
                format="json",
            )
            # migrations.Migration is no installed app's model: unknown (404), like any such.
            assert response.status_code == (404 if label.startswith("migrations.") else 400)
            assert "not erasable" in response.json()["detail"] or label.startswith("migrations.")
        elif face.startswith("command"):
            dry = ["--dry-run"] if "dry" in face else []
            outcome = housekeeping("erase", label, str(row.pk), "--reason", "Request #7", *dry)
            assert outcome.returncode == 2
            assert "\n" not in outcome.message
            assert "not erasable" in outcome.message or label.startswith("migrations.")
        else:
            assert "erase_objects" not in _admin_actions(model, dpo)
            # The holds' action stays: only erasure is out of scope.
            assert "place_legal_hold" in _admin_actions(model, dpo)
    assert _exists(row)
    assert ErasureRecord.objects.count() == records


def test_the_admin_action_itself_refuses_a_model_out_of_scope() -> None:
    """Posting the action by hand (it is not offered) is refused, nothing deleted."""
    dpo = make_user("dpo", superuser=True)
    group = Group.objects.create(name="operators")
    model_admin = type("ScopeAdmin", (LegalHoldAdminMixin, admin.ModelAdmin), {})(
        Group, admin.AdminSite(name="scope")
    )
    request = RequestFactory().post("/", {"post": "yes", "reason": "x"})
    request.user = dpo
    with pytest.raises(PermissionDenied) as excinfo:
        model_admin.erase_objects(request, Group.objects.all())
    assert "not erasable" in str(excinfo.value)
    assert Group.objects.filter(pk=group.pk).exists()
    assert not ErasureRecord.objects.exists()


def test_the_default_scope_is_the_user_model_and_the_apps_declaring_tasks() -> None:
    labels = default_labels()
    assert labels[0] == "auth.User"
    assert "testapp.*" in labels
    assert "procapp.*" not in labels  # procapp declares no task nor policy
    assert not any(label.startswith("django_housekeeping") for label in labels)

    actor = control.SYSTEM
    user = make_user("someone")
    assert control.erasable(type(user))
    assert control.erasable(Thread)
    assert not control.erasable(SoloRecord)
    with pytest.raises(control.NotErasable, match="not in HOUSEKEEPING\\['ERASABLE_MODELS'\\]"):
        control.erase(actor, "procapp.SoloRecord", "1", reason="x")
    assert not ErasureRecord.objects.exists()


def _solo() -> SoloRecord:
    now = timezone.now()
    return SoloRecord.objects.create(
        task_name="t", run_id=1, trigger="cli", started_at=now, finished_at=now, pid=1
    )


@pytest.mark.usefixtures("api_settings")
def test_erasable_models_widens_and_narrows_the_scope() -> None:
    solo, thread = _solo(), _thread()
    dpo = make_user("dpo", permissions=["add_erasurerecord"])
    body = {"model": "testapp.Thread", "pk": thread.pk, "reason": "Request"}
    with override_settings(HOUSEKEEPING={"ERASABLE_MODELS": ["procapp.SoloRecord"]}):
        # Narrowed: threads are out (400, nothing deleted, no record) ...
        response = client_for(dpo).post(f"{API}erasures", body, format="json")
        assert response.status_code == 400
        assert "testapp.Thread is not erasable" in response.json()["detail"]
        assert Thread.objects.filter(pk=thread.pk).exists()
        assert not ErasureRecord.objects.exists()
        assert "erase_objects" not in _admin_actions(Thread, dpo)
        # ... and SoloRecord is in.
        assert "erase_objects" in _admin_actions(SoloRecord, dpo)
        record = control.erase(control.SYSTEM, "procapp.SoloRecord", solo.pk, reason="Request")
    assert record.status == ErasureRecord.Status.ERASED
    assert not SoloRecord.objects.filter(pk=solo.pk).exists()
    with override_settings(HOUSEKEEPING={"ERASABLE_MODELS": ["procapp.*", "TESTAPP.*"]}):
        assert control.erasable(Thread)  # labels are matched without regard to case
        assert control.erasable(SoloRecord)


@pytest.mark.parametrize(
    ("label", "problem"),
    [
        ("testapp.Nope", "testapp has no model 'Nope'"),
        ("nowhere.*", "no installed app is labelled 'nowhere'"),
        ("testapp", 'not "app_label.Model" nor "app_label.*"'),
        ("testapp.Thread.x", 'not "app_label.Model" nor "app_label.*"'),
        ("django_housekeeping.*", "the models of django_housekeeping are never erasable"),
        ("django_housekeeping.LegalHold", "the models of django_housekeeping are never erasable"),
        ("auth.Group", "permissions and groups are never erasable"),
        ("sessions.Session", "the models of sessions are never erasable"),
    ],
)
def test_e015_a_label_that_names_nothing_or_a_denied_model(label: str, problem: str) -> None:
    with override_settings(HOUSEKEEPING={"ERASABLE_MODELS": ["auth.User", label]}):
        errors = check_erasable_models()
    assert [error.id for error in errors] == ["django_housekeeping.E015"]
    assert errors[0].msg == f"HOUSEKEEPING['ERASABLE_MODELS'] has {label!r}: {problem}."


@pytest.mark.parametrize(
    "housekeeping_setting",
    [{}, {"ERASABLE_MODELS": None}, {"ERASABLE_MODELS": ["auth.User", "testapp.*"]}, []],
)
def test_e015_not_raised_for_good_labels(housekeeping_setting: Any) -> None:
    with override_settings(HOUSEKEEPING=housekeeping_setting):
        assert check_erasable_models() == []


def test_e005_for_a_setting_that_is_no_list() -> None:
    with override_settings(HOUSEKEEPING={"ERASABLE_MODELS": "auth.User"}):
        errors = check_settings()
    assert [error.id for error in errors] == ["django_housekeeping.E005"]
    with override_settings(HOUSEKEEPING={"ERASABLE_MODELS": "auth.User"}):
        assert not control.erasable(Thread)  # nothing is erasable until it is fixed

"""django-apscheduler's admin is replaced by a read-only view of the job store: nothing there can
run, add or delete a job behind the scheduler's back."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django_apscheduler.models import DjangoJob, DjangoJobExecution

from django_housekeeping.admin import JobStoreAdmin

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:django_apscheduler_djangojob_changelist"


@pytest.fixture
def job() -> DjangoJob:
    return DjangoJob.objects.create(id="threads", next_run_time=timezone.now(), job_state=b"")


def test_the_job_store_admin_is_ours_and_the_execution_log_is_gone() -> None:
    assert isinstance(admin.site.get_model_admin(DjangoJob), JobStoreAdmin)
    assert not admin.site.is_registered(DjangoJobExecution)
    with pytest.raises(NoReverseMatch):
        reverse("admin:django_apscheduler_djangojobexecution_changelist")


def test_it_lists_the_jobs_with_their_schedule_and_offers_no_action(
    admin_client: Client, job: DjangoJob
) -> None:
    response = admin_client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    content = response.content.decode()
    assert ">threads</a>" in content
    assert "cron(&#x27;0 3 * * sun&#x27;)" in content
    assert response.context["action_form"] is None  # no "Run the selected django jobs"
    assert 'name="action"' not in content
    assert reverse("admin:django_apscheduler_djangojob_add") not in content


def test_a_job_cannot_be_run_added_changed_or_deleted(admin_client: Client, job: DjangoJob) -> None:
    run = admin_client.post(
        reverse(CHANGELIST),
        {"action": "run_selected_jobs", "_selected_action": [job.pk], "index": "0"},
    )
    added = admin_client.post(
        reverse("admin:django_apscheduler_djangojob_add"), {"id": "x", "job_state": ""}
    )
    changed = admin_client.post(
        reverse("admin:django_apscheduler_djangojob_change", args=[job.pk]), {"id": "threads"}
    )
    deleted = admin_client.post(
        reverse("admin:django_apscheduler_djangojob_delete", args=[job.pk]), {"post": "yes"}
    )

    assert run.status_code == 200  # an unknown action: nothing done
    assert (added.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
    assert list(DjangoJob.objects.values_list("id", flat=True)) == ["threads"]


def test_it_follows_the_housekeeping_view_permission(staff_client: Any, job: DjangoJob) -> None:
    viewer, _ = staff_client("view_taskrun")
    other, user = staff_client()
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="django_apscheduler")
    )  # django-apscheduler's own permissions grant nothing here

    assert viewer.get(reverse(CHANGELIST)).status_code == 200
    assert other.get(reverse(CHANGELIST)).status_code == 403
    assert (
        other.post(
            reverse("admin:django_apscheduler_djangojob_delete", args=[job.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert DjangoJob.objects.filter(pk=job.pk).exists()

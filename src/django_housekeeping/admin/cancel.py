"""The admin's **Cancel** on an active run's page: the control layer cancels (permission
``run_task``), this view parses and presents. A run of a task that may delete asks for a
confirmation first (a page, as "Run now" does); a read-only task's run is cancelled at once."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from django_housekeeping.admin.base import ModelAdmin, actor
from django_housekeeping.models import TaskRun
from django_housekeeping.running import control


def cancel_view(model_admin: ModelAdmin[TaskRun], request: HttpRequest, pk: str) -> HttpResponse:
    """GET (or a destructive run's POST without ``post=yes``): the confirmation; POST: cancel."""
    person = actor(request)
    if not control.allowed(person, control.RUN):
        raise PermissionDenied
    site = model_admin.admin_site.name
    run = TaskRun.objects.filter(pk=int(pk)).first() if pk.isdigit() else None
    if run is None:
        messages.error(request, _("No run has the id %(pk)s.") % {"pk": pk[:50]})
        return HttpResponseRedirect(
            reverse(f"{site}:django_housekeeping_taskrun_changelist", current_app=site)
        )
    page = reverse(f"{site}:django_housekeeping_taskrun_change", args=[run.pk], current_app=site)
    confirmed = request.POST.get("post") == "yes" or not control.is_destructive(run.task_name)
    if request.method == "POST" and confirmed:
        try:
            done = control.cancel(person, run.pk)
        except control.ControlError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, done.detail)
        return HttpResponseRedirect(page)
    request.current_app = site
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Are you sure?"),
        "opts": model_admin.opts,
        "run": run,
        "run_url": page,
    }
    return TemplateResponse(request, "admin/django_housekeeping/confirm_cancel.html", context)

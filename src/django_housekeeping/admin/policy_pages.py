"""The retention policies' pages of the run history's admin: every policy's windows, rows due
and held rows, and its **Preview**, a dry run started outside the request
(docs/retention.md#preview)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from django_housekeeping.admin.base import CONFIRM_REFRESH_SECONDS, RunAdminBase, actor
from django_housekeeping.presenters import find_run, policies_payload, preview_payload
from django_housekeeping.running import control
from django_housekeeping.tasks.retention import policies


class PolicyPages(RunAdminBase):
    """The retention policies' pages, part of :class:`~.runs.TaskRunAdmin`."""

    def policies_view(self, request: HttpRequest) -> HttpResponse:
        """Every retention policy: windows in effect, rows due now, held rows, last and next
        run, and a Preview button (a dry run, started outside the request)."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": _("Retention policies"),
            "opts": self.opts,
            "can_run": self.has_run_permission(request),
            "policies": policies_payload(self._change_url_of),
        }
        return TemplateResponse(request, "admin/django_housekeeping/policies.html", context)

    def preview_view(self, request: HttpRequest) -> HttpResponse:
        """The Preview button: a dry run of the policy through the control layer (permission
        ``run_task``, throttle, dispatched outside the request), then its page."""
        name = request.POST.get("policy", "")
        if name not in {task.name for task, _policy in policies()}:
            messages.error(request, _("No retention policy is called %(name)r.") % {"name": name})
            return HttpResponseRedirect(self._policies_url())
        try:
            (dispatched,) = control.trigger(actor(request), [name], dry_run=True)
        except control.Forbidden as exc:
            raise PermissionDenied(exc.message) from None
        except control.ControlError as exc:
            messages.error(request, exc.message)
            return HttpResponseRedirect(self._policies_url())
        return HttpResponseRedirect(
            reverse(
                f"{self.admin_site.name}:django_housekeeping_policy_preview_result",
                args=[dispatched.run.pk],
                current_app=self.admin_site.name,
            )
        )

    def preview_result_view(self, request: HttpRequest, pk: str) -> HttpResponse:
        """What a policy's dry run found: rows per model, cutoffs, delete receivers."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        run = find_run(pk)
        if run is None or not run.dry_run:
            messages.error(request, _("That run is no preview of a retention policy."))
            return HttpResponseRedirect(self._policies_url())
        request.current_app = self.admin_site.name
        context = {
            **self.admin_site.each_context(request),
            "title": _("Preview of %(name)s") % {"name": run.task_name},
            "opts": self.opts,
            "run": run,
            "preview": preview_payload(run, self._change_url_of),
            "refresh_seconds": CONFIRM_REFRESH_SECONDS,
        }
        return TemplateResponse(request, "admin/django_housekeeping/policy_preview.html", context)

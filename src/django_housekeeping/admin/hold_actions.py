"""The actions a project gives its own model admins (:class:`LegalHoldAdminMixin`): place a
legal hold on rows, and erase rows on an erasure request, each asked on an intermediate page."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_housekeeping.admin.base import actor
from django_housekeeping.models import ErasureRecord
from django_housekeeping.running import control


class PlaceHoldForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("Why these rows must not be deleted (a dispute, a court order, a case)."),
    )
    until = forms.DateTimeField(
        label=_("Until"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        help_text=_("Optional: the hold ends by itself then. Empty: until it is released."),
    )

    def clean_until(self) -> datetime | None:
        until: datetime | None = self.cleaned_data.get("until")
        if until is not None and until <= timezone.now():
            raise ValidationError(_("This time has passed: such a hold would hold nothing."))
        return until


class EraseForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=_("The erasure request (kept in the erasure record, with who and when)."),
    )


# The erasure confirmation page dry-runs each selected row: at most this many at once.
MAX_ERASE_ROWS = 20


class LegalHoldAdminMixin:
    """Give a ``ModelAdmin`` the actions "Place legal hold" and "Erase (erasure request)".

    ::

        from django_housekeeping.admin import LegalHoldAdminMixin

        @admin.register(Conversation)
        class ConversationAdmin(LegalHoldAdminMixin, admin.ModelAdmin):
            ...

    Each asks on an intermediate page first (the hold's reason and optional end; the erasure's
    blast radius, from a dry run, and its reason), and is offered only to whoever the control
    layer allows: ``django_housekeeping.change_legalhold`` to place holds,
    ``django_housekeeping.add_erasurerecord`` to erase.
    """

    admin_site: admin.AdminSite
    model: Any
    opts: Any

    def get_actions(self, request: HttpRequest, action_location: Any = None) -> dict[str, Any]:
        # Django 6.1 passes where the actions show (``action_location``: the change list or the
        # change form) and wants the parameter in the signature; earlier versions pass nothing.
        # ``get_action()`` makes each entry in the shape of the running version.
        where = () if action_location is None else (action_location,)
        actions: dict[str, Any] = super().get_actions(request, *where)  # type: ignore[misc]
        # No actions at all (``actions = None``) or a popup: none of ours either.
        if getattr(self, "actions", ()) is None or IS_POPUP_VAR in request.GET:
            return actions
        person = actor(request)
        offered = {
            "place_legal_hold": control.allowed(person, control.HOLD),
            # Not on a model no erasure may touch (docs/retention.md#erasure-scope).
            "erase_objects": control.may_erase(person, self.model),
        }
        for name, allowed in offered.items():
            if allowed:
                entry = self.get_action(name, *where)  # type: ignore[attr-defined]
                if entry is not None:  # None: not offered at this location (the change form)
                    actions[name] = entry
        return actions

    def _action_context(self, request: HttpRequest, queryset: QuerySet[Any]) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "queryset": queryset,
            "selected": [str(pk) for pk in queryset.values_list("pk", flat=True)],
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }

    @admin.action(description=_("Place legal hold on the selected %(verbose_name_plural)s"))
    def place_legal_hold(
        self, request: HttpRequest, queryset: QuerySet[Any]
    ) -> HttpResponse | None:
        """Ask for the reason (and an optional end), then hold every selected row."""
        person = actor(request)
        if not control.allowed(person, control.HOLD):
            raise PermissionDenied(control.denial_message(control.HOLD))
        form = PlaceHoldForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_bound and form.is_valid():
            placed = 0
            for obj in queryset:
                try:
                    control.place_hold(
                        person,
                        obj,
                        reason=form.cleaned_data["reason"],
                        until=form.cleaned_data["until"],
                    )
                except control.ControlError as exc:
                    messages.error(request, exc.message)
                else:
                    placed += 1
            if placed:
                messages.success(
                    request,
                    ngettext(
                        "Placed a legal hold on %(count)d row: no purge deletes it until the "
                        "hold is released.",
                        "Placed legal holds on %(count)d rows: no purge deletes them until "
                        "the holds are released.",
                        placed,
                    )
                    % {"count": placed},
                )
            return None
        request.current_app = self.admin_site.name
        context = {
            **self._action_context(request, queryset),
            "title": _("Place a legal hold"),
            "form": form,
        }
        return TemplateResponse(request, "admin/django_housekeeping/place_hold.html", context)

    @admin.action(description=_("Erase the selected %(verbose_name_plural)s (erasure request)"))
    def erase_objects(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse | None:
        """Show what erasing the selected rows deletes (a dry run each), ask for the reason,
        then erase them one by one (a held row is refused, nothing of it deleted)."""
        person = actor(request)
        if not control.allowed(person, control.ERASE):
            raise PermissionDenied(control.denial_message(control.ERASE))
        try:
            control.erasable_model(self.opts.label)
        except control.ControlError as exc:
            raise PermissionDenied(exc.message) from None
        rows = list(queryset.order_by("pk")[: MAX_ERASE_ROWS + 1])
        if len(rows) > MAX_ERASE_ROWS:
            messages.error(
                request,
                _("Select at most %(count)d rows to erase at once.") % {"count": MAX_ERASE_ROWS},
            )
            return None
        form = EraseForm(request.POST if request.POST.get("post") == "yes" else None)
        if form.is_bound and form.is_valid():
            for obj in rows:
                try:
                    record = control.erase(
                        person,
                        obj._meta.label,
                        str(obj.pk),
                        reason=form.cleaned_data["reason"],
                    )
                except control.ControlError as exc:
                    messages.error(request, exc.message)
                    continue
                total = sum(record.deleted.values())
                if record.status == ErasureRecord.Status.PROTECTED:
                    messages.warning(
                        request,
                        _("%(object)s was kept: a protected relation forbids deleting it.")
                        % {"object": f"{record.model} {record.object_pk}"},
                    )
                else:
                    messages.success(
                        request,
                        _("Erased %(object)s: %(total)d rows deleted (erasure record #%(id)d).")
                        % {
                            "object": f"{record.model} {record.object_pk}",
                            "total": total,
                            "id": record.pk,
                        },
                    )
            return None
        previews = []
        for obj in rows:
            preview = control.preview_erasure(person, obj)
            previews.append(
                {
                    "object": obj,
                    "preview": preview,
                    "counts": sorted(preview.deleted.items()),
                    "total": sum(preview.deleted.values()),
                }
            )
        request.current_app = self.admin_site.name
        context = {
            **self._action_context(request, queryset),
            "title": _("Erase: are you sure?"),
            "form": form,
            "previews": previews,
            "blocked": any(item["preview"].held_rows for item in previews),
        }
        return TemplateResponse(request, "admin/django_housekeeping/confirm_erase.html", context)

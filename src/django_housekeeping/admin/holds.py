"""The legal holds (listed, filtered, released) and the erasure records (read-only): the
history of what purges must keep and of what erasure requests deleted. The actions that place
holds and erase rows from a project's own admins are in :mod:`.hold_actions`."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import quote as admin_quote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_housekeeping.admin.base import ReadOnlyForViewers, actor
from django_housekeeping.models import ErasureRecord, LegalHold
from django_housekeeping.running import control


def object_link(model: Any, pk: str, admin_site: admin.AdminSite = admin.site) -> str:
    """``app_label.Model pk``, linked to the row's admin page when the site has one."""
    text = f"{model._meta.label} {pk}" if model is not None else pk
    if model is None or not admin_site.is_registered(model):
        return text
    url = reverse(
        f"{admin_site.name}:{model._meta.app_label}_{model._meta.model_name}_change",
        args=[admin_quote(pk)],
    )
    return format_html('<a href="{}">{}</a>', url, text)


class HoldStateFilter(admin.SimpleListFilter):
    """Active holds (the ones purges obey), released ones, and the ones whose ``until`` passed."""

    title = _("state")
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("active", str(_("active"))),
            ("released", str(_("released"))),
            ("expired", str(_("expired (until passed)"))),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        now = timezone.now()
        if self.value() == "active":
            return queryset.filter(released_at__isnull=True).exclude(until__lte=now)
        if self.value() == "released":
            return queryset.filter(released_at__isnull=False)
        if self.value() == "expired":
            return queryset.filter(released_at__isnull=True, until__lte=now)
        return queryset


@admin.register(LegalHold)
class LegalHoldAdmin(ReadOnlyForViewers[LegalHold]):
    """The legal holds: listed, filtered, released; never added here (the rows' own admins have
    the "Place legal hold" action of :class:`~.hold_actions.LegalHoldAdminMixin`) and never
    deleted: holds are released, and the table is their history."""

    list_display = [
        "object_display",
        "reason",
        "placed_by",
        "placed_at",
        "until",
        "active_display",
        "released_at",
        "released_by",
    ]
    list_filter = [HoldStateFilter, "content_type", "placed_at"]
    list_select_related = ["content_type", "placed_by", "released_by"]
    search_fields = ["reason", "object_pk"]
    actions = ["release"]
    fields = (
        "object_display",
        "reason",
        "placed_by",
        "placed_at",
        "until",
        "active_display",
        "released_by",
        "released_at",
    )
    readonly_fields = fields

    def has_view_permission(self, request: HttpRequest, obj: LegalHold | None = None) -> bool:
        person = actor(request)
        return control.allowed(person, control.HOLD) or control.allowed(person, control.VIEW)

    def has_release_permission(self, request: HttpRequest) -> bool:
        return control.allowed(actor(request), control.HOLD)

    @admin.display(description=_("object"))
    def object_display(self, hold: LegalHold) -> str:
        return object_link(hold.content_type.model_class(), hold.object_pk, self.admin_site)

    @admin.display(description=_("active"), boolean=True)
    def active_display(self, hold: LegalHold) -> bool:
        return hold.is_active()

    @admin.action(description=_("Release the selected legal holds"), permissions=["release"])
    def release(self, request: HttpRequest, queryset: QuerySet[LegalHold]) -> None:
        try:
            released = control.release_holds(actor(request), queryset)
        except control.ControlError as exc:
            raise PermissionDenied(exc.message) from None
        if released:
            messages.success(
                request,
                ngettext(
                    "Released %(count)d legal hold: the next purge may delete its row.",
                    "Released %(count)d legal holds: the next purge may delete their rows.",
                    released,
                )
                % {"count": released},
            )
        else:
            messages.info(request, _("Nothing to release: those holds were released already."))


@admin.register(ErasureRecord)
class ErasureRecordAdmin(ReadOnlyForViewers[ErasureRecord]):
    """The erasure records, read-only: what was erased, how many rows, who asked and why."""

    list_display = [
        "requested_at",
        "model",
        "object_pk",
        "status",
        "dry_run",
        "requested_by",
        "total",
        "reason",
    ]
    list_filter = ["status", "dry_run", "model", "requested_at"]
    list_select_related = ["requested_by"]
    search_fields = ["model", "object_pk", "reason"]
    fields = (
        "model",
        "object_pk",
        "status",
        "dry_run",
        "reason",
        "requested_by",
        "requested_at",
        "finished_at",
        "deleted_display",
        "protected",
        "held",
        "error",
    )
    readonly_fields = fields

    def has_view_permission(self, request: HttpRequest, obj: ErasureRecord | None = None) -> bool:
        return control.may_see_erasures(actor(request))

    @admin.display(description=_("rows"))
    def total(self, record: ErasureRecord) -> int:
        return sum(count for count in (record.deleted or {}).values() if isinstance(count, int))

    @admin.display(description=_("rows deleted"))
    def deleted_display(self, record: ErasureRecord) -> str:
        rows = sorted((record.deleted or {}).items())
        if not rows:
            return "—"
        return format_html_join(mark_safe("<br>"), "{}: {}", rows)

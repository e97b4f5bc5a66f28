"""The API's root, ``GET /api/admin/scheduler/``: its endpoints by name, as DRF's browsable APIs
start (``DefaultRouter``'s root view), with the permission of every other read."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework.request import Request
from rest_framework.response import Response

from django_housekeeping.api.base import APP_NAME, ERRORS, HousekeepingAPIView, document

# The name of each endpoint in the root's answer, and its URL name; the endpoints whose URL
# takes an argument are listed as templates (``runs/{id}``).
ENDPOINTS = {
    "status": "status",
    "trigger": "trigger",
    "statistics": "statistics",
    "runs": "run-list",
    "tasks": "task-list",
    "policies": "policy-list",
    "erasures": "erasures",
    "schema": "schema",
}
TEMPLATES = {
    "run": ("run-detail", "id"),
    "task_pause": ("task-pause", "name"),
    "task_resume": ("task-resume", "name"),
}
MARK = "0"


class RootView(HousekeepingAPIView):
    @document(
        operation_id="root",
        summary="The API's endpoints",
        description=(
            "Every endpoint of this API by name, with its absolute URL; `run`, `task_pause` and "
            "`task_resume` are URL templates (`{id}`, `{name}`)."
        ),
        responses={
            200: OpenApiResponse(OpenApiTypes.OBJECT, description="Endpoint name → URL."),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        match = request.resolver_match
        namespace = match.namespace if match is not None and match.namespace else APP_NAME
        urls = {
            key: request.build_absolute_uri(reverse(f"{namespace}:{name}"))
            for key, name in ENDPOINTS.items()
        }
        for key, (name, argument) in TEMPLATES.items():
            # Reversed with a mark in the argument's place, then the mark made a placeholder:
            # reverse() would quote the braces.
            prefix, _mark, suffix = reverse(
                f"{namespace}:{name}", kwargs={argument: MARK}
            ).rpartition(f"/{MARK}")
            base = request.build_absolute_uri(f"{prefix}/")  # it would quote the braces too
            urls[key] = f"{base}{{{argument}}}{suffix}"
        return Response(urls)

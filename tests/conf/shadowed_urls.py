"""A project whose old endpoint comes before the library's include and shadows its ``status``
(the W001 check's test)."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path


def old_status(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"running": True})


urlpatterns = [
    path("api/admin/scheduler/status", old_status),
    path("scheduler-admin/", include("django_housekeeping.urls")),
    path("api/admin/scheduler/", include("django_housekeeping.api.urls")),
]

"""A project that does not mount the library at all (the W001 check's test)."""

from django.http import HttpRequest, JsonResponse
from django.urls import path


def old_status(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"running": True})


urlpatterns = [path("api/admin/scheduler/status", old_status)]

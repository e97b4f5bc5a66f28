import os
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import include, path

from tests.helpers import current_service


def whoami(request: HttpRequest) -> JsonResponse:
    """Which process answered, and whether its scheduler service runs."""
    service = current_service()
    return JsonResponse({"pid": os.getpid(), "scheduler": bool(service and service.is_running)})


def worker_pid(get_response: Callable[[HttpRequest], HttpResponse]) -> Callable[..., HttpResponse]:
    """Middleware: the pid of the process that answered, in an ``X-Worker-Pid`` header."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response["X-Worker-Pid"] = str(os.getpid())
        return response

    return middleware


urlpatterns = [
    path("whoami/", whoami),
    path("api/admin/scheduler/", include("django_housekeeping.api.urls")),
]

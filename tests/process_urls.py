import os

from django.http import HttpRequest, JsonResponse
from django.urls import path

from django_housekeeping.autostart import current_service


def whoami(request: HttpRequest) -> JsonResponse:
    """Which process answered, and whether its scheduler service runs."""
    service = current_service()
    return JsonResponse({"pid": os.getpid(), "scheduler": bool(service and service.is_running)})


urlpatterns = [path("whoami/", whoami)]

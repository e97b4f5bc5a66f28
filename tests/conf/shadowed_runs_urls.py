"""A project whose old patterns with an argument shadow the library's run pages (W001's test)."""

from django.http import HttpRequest, JsonResponse
from django.urls import include, path


def old_run(request: HttpRequest, pk: str) -> JsonResponse:
    return JsonResponse({"id": pk})


urlpatterns = [
    path("scheduler-admin/runs/<int:pk>/", old_run),
    path("api/admin/scheduler/runs/<str:pk>", old_run),
    path("scheduler-admin/", include("django_housekeeping.urls")),
    path("api/admin/scheduler/", include("django_housekeeping.api.urls")),
]

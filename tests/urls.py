from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("scheduler-admin/", include("django_housekeeping.urls")),
    path("api/admin/scheduler/", include("django_housekeeping.api.urls")),
]

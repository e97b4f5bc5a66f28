"""URLs of the staff dashboard.

Mount them with ``path("scheduler-admin/", include("django_housekeeping.urls"))``.
"""

from django.urls import path, re_path

from django_housekeeping import probes, views

app_name = "django_housekeeping"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("data/", views.data, name="data"),
    path("trigger/", views.trigger, name="trigger"),
    path("runs/<str:pk>/", views.run, name="run"),
    path("runs/<str:pk>/cancel/", views.cancel, name="cancel"),
    path("health/", probes.health, name="health"),
    path("metrics/", probes.metrics_view, name="metrics"),
    # Anything else under the dashboard's prefix: a JSON 404, not the project's HTML page.
    re_path(r"^", views.not_found),
]

"""URLs of the staff dashboard.

Mount them with ``path("scheduler-admin/", include("django_housekeeping.urls"))``.
"""

from django.urls import path

from django_housekeeping import views

app_name = "django_housekeeping"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("data/", views.data, name="data"),
    path("trigger/", views.trigger, name="trigger"),
    path("runs/<int:pk>/", views.run, name="run"),
]

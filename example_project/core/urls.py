"""URLs of the example chat site, as the quick-start documents them.

- ``/admin/``                          Django admin (housekeeping runs, tasks, scheduler lease)
- ``/scheduler-admin/``                the housekeeping dashboard (staff only)
- ``/api/admin/scheduler/...``         the housekeeping API: status, trigger, statistics, ...
- ``/api/auth/login``                  JWT login: POST username and password, get access + refresh
- ``/api/auth/refresh``                a new access token for a refresh token
- ``/api/auth/me``                     who a token belongs to (try ``Authorization: Bearer ...``)
"""

from importlib.util import find_spec

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.views import me


def module_exists(name: str) -> bool:
    """Whether ``name`` can be imported (an error raised while importing it is not hidden)."""
    try:
        return find_spec(name) is not None
    except ModuleNotFoundError as exc:  # a parent package is missing
        if exc.name and name.startswith(exc.name):
            return False
        raise


urlpatterns = [
    path("", RedirectView.as_view(url="/scheduler-admin/"), name="home"),
    path("admin/", admin.site.urls),
    # With or without the trailing slash, as the quick-start's curl commands write them.
    re_path(r"^api/auth/login/?$", TokenObtainPairView.as_view(), name="login"),
    re_path(r"^api/auth/refresh/?$", TokenRefreshView.as_view(), name="token_refresh"),
    re_path(r"^api/auth/me/?$", me, name="me"),
]

# The dashboard and the API come with their own issue: mount them once the library has them. Until
# then /scheduler-admin/ leads to the housekeeping tasks page of the Django admin.
if module_exists("django_housekeeping.urls"):
    urlpatterns.append(path("scheduler-admin/", include("django_housekeeping.urls")))
else:
    urlpatterns.append(
        path(
            "scheduler-admin/",
            RedirectView.as_view(pattern_name="admin:django_housekeeping_tasks"),
            name="scheduler_admin",
        )
    )
if module_exists("django_housekeeping.api.urls"):
    urlpatterns.append(path("api/admin/scheduler/", include("django_housekeeping.api.urls")))

"""URLs of the example chat site, as the quick-start documents them.

- ``/admin/``                          Django admin (housekeeping runs, tasks, scheduler lease)
- ``/scheduler-admin/``                the housekeeping dashboard (staff only)
- ``/api/admin/scheduler/...``         the housekeeping API: status, trigger, statistics, ...
- ``/api/auth/login``                  JWT login: POST username and password, get access + refresh
- ``/api/auth/refresh``                a new access token for a refresh token
- ``/api/auth/me``                     who a token belongs to (try ``Authorization: Bearer ...``)
- ``/api/auth/delete-account``         POST: "delete my account", through ``erase()``
"""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from rest_framework_simplejwt.views import TokenObtainPairView, TokenRefreshView

from accounts.views import delete_account, me

urlpatterns = [
    path("", RedirectView.as_view(url="/scheduler-admin/"), name="home"),
    path("admin/", admin.site.urls),
    # With or without the trailing slash, as the quick-start's curl commands write them.
    re_path(r"^api/auth/login/?$", TokenObtainPairView.as_view(), name="login"),
    re_path(r"^api/auth/refresh/?$", TokenRefreshView.as_view(), name="token_refresh"),
    re_path(r"^api/auth/me/?$", me, name="me"),
    re_path(r"^api/auth/delete-account/?$", delete_account, name="delete-account"),
    path("scheduler-admin/", include("django_housekeeping.urls")),
    path("api/admin/scheduler/", include("django_housekeeping.api.urls")),
]

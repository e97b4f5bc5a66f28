"""URLs of the API: ``path("api/admin/scheduler/", include("django_housekeeping.api.urls"))``.

Every endpoint answers with and without a trailing slash (the seed's clients use none).
"""

from collections.abc import Callable

from django.db import transaction
from django.http import HttpResponseBase
from django.urls import URLPattern, path, re_path

from django_housekeeping.api import erasures, root, runs, schema, status, tasks
from django_housekeeping.api.base import APP_NAME, NotFoundView

app_name = APP_NAME


def both(route: str, view: Callable[..., HttpResponseBase], name: str) -> list[URLPattern]:
    """``route`` without and with a trailing slash; the first is the one in the schema."""
    return [path(route, view, name=name), path(f"{route}/", view)]


urlpatterns = [
    path("", root.RootView.as_view(), name="root"),
    *both("status", status.StatusView.as_view(), "status"),
    # Not in the request's transaction (ATOMIC_REQUESTS): the runs start when their rows commit.
    *both("trigger", transaction.non_atomic_requests(runs.TriggerView.as_view()), "trigger"),
    *both("statistics", status.StatisticsView.as_view(), "statistics"),
    *both("runs", runs.RunListView.as_view(), "run-list"),
    *both("runs/<str:id>", runs.RunDetailView.as_view(), "run-detail"),
    *both("runs/<str:id>/cancel", runs.CancelView.as_view(), "run-cancel"),
    *both("tasks", tasks.TaskListView.as_view(), "task-list"),
    *both("tasks/<str:name>/pause", tasks.PauseView.as_view(), "task-pause"),
    *both("tasks/<str:name>/resume", tasks.ResumeView.as_view(), "task-resume"),
    *both("policies", tasks.PolicyListView.as_view(), "policy-list"),
    # Not in the request's transaction: the erasure record is committed before the deletion.
    *both("erasures", transaction.non_atomic_requests(erasures.ErasureView.as_view()), "erasures"),
    *both("schema", schema.SchemaView.as_view(), "schema"),
    # Anything else under the API's prefix: a JSON 404, not the project's HTML page.
    re_path(r"^", NotFoundView.as_view()),
]

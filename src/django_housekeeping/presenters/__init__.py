"""What every face shows: tasks, runs, results, the scheduler's state and statistics, as plain data.

One presenter for the command line, the admin, the staff dashboard and the API, a module per
subject: :mod:`.results` (the one reader of a run's result: its summary and tables),
:mod:`.runs` (a run, and the outcomes of the control layer's actions on runs), :mod:`.tasks`,
:mod:`.scheduler`, :mod:`.statistics`, :mod:`.policies`, :mod:`.erasures`, :mod:`.labels` and
:mod:`.encoding` (JSON as the faces write it). The payloads are the one definition of each
response's shape: the dashboard serves them as they are, and the API's serializers declare the
same shapes for its OpenAPI schema (``tests/test_one_representation.py`` holds them together).

The names the faces import are re-exported here.
"""

from django_housekeeping.models import deletion_counts
from django_housekeeping.presenters.encoding import to_json
from django_housekeeping.presenters.erasures import erasure_as_dict
from django_housekeeping.presenters.labels import choice_label, status_label, trigger_label
from django_housekeeping.presenters.policies import (
    capped_count,
    count_display,
    delete_receivers,
    policies_payload,
    preview_payload,
)
from django_housekeeping.presenters.results import (
    RESULT_KINDS,
    read_result,
    result_details,
    run_summary,
)
from django_housekeeping.presenters.runs import (
    MAX_PK,
    RunUrl,
    find_run,
    run_as_dict,
    run_detail_payload,
    run_payload,
)
from django_housekeeping.presenters.scheduler import scheduler_status
from django_housekeeping.presenters.statistics import (
    DEFAULT_STATISTICS_DAYS,
    MAX_STATISTICS_DAYS,
    housekeeping_statistics,
    statistics_payload,
    statistics_task_names,
)
from django_housekeeping.presenters.tasks import (
    TaskView,
    describe_effective_schedule,
    describe_schedule,
    last_runs,
    state_of,
    task_as_dict,
    task_views,
    tasks_payload,
)

__all__ = [
    "DEFAULT_STATISTICS_DAYS",
    "MAX_PK",
    "MAX_STATISTICS_DAYS",
    "RESULT_KINDS",
    "RunUrl",
    "TaskView",
    "capped_count",
    "choice_label",
    "count_display",
    "delete_receivers",
    "deletion_counts",
    "describe_effective_schedule",
    "describe_schedule",
    "erasure_as_dict",
    "find_run",
    "housekeeping_statistics",
    "last_runs",
    "policies_payload",
    "preview_payload",
    "read_result",
    "result_details",
    "run_as_dict",
    "run_detail_payload",
    "run_payload",
    "run_summary",
    "scheduler_status",
    "state_of",
    "statistics_payload",
    "statistics_task_names",
    "status_label",
    "task_as_dict",
    "task_views",
    "tasks_payload",
    "to_json",
    "trigger_label",
]

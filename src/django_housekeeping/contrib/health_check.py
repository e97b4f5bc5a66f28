"""A django-health-check (4.x) check: housekeeping's health among a site's other checks.

    # urls.py
    from health_check.views import HealthCheckView

    path("ht/", HealthCheckView.as_view(checks=[
        "health_check.checks.Database",
        "django_housekeeping.contrib.health_check.Housekeeping",
    ])),

Install with ``pip install "django-housekeeping[health-check]"``. The check fails (service
unavailable) with the same problems as ``manage.py housekeeping check`` and ``health/``.
"""

from __future__ import annotations

import dataclasses

from health_check.base import HealthCheck
from health_check.exceptions import ServiceUnavailable

from django_housekeeping.monitoring.health import health


@dataclasses.dataclass
class Housekeeping(HealthCheck):  # type: ignore[misc]  # django-health-check ships no types
    """Housekeeping is healthy: a scheduler leads, no task is overdue, failed or interrupted, no
    housekeeping system check errs."""

    def run(self) -> None:
        state = health()
        if not state.healthy:
            raise ServiceUnavailable("; ".join(problem.message for problem in state.problems))

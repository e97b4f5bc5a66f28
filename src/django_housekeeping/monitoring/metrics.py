"""The Prometheus metrics, read from the database at scrape time (prometheus-client, the
``[metrics]`` extra).

Runs happen in other processes, so nothing is counted in this one: each scrape reads the run
totals (:mod:`django_housekeeping.monitoring.totals`), the last successes, the active runs and the
scheduler lease with a few cheap aggregate queries.
"""

from __future__ import annotations


def exposition(accept: str = "") -> tuple[bytes, str]:
    """The metrics in the Prometheus text format (or OpenMetrics, if ``accept`` asks for it):
    ``(body, content type)``. ``ImportError`` when prometheus-client is not installed."""
    raise NotImplementedError

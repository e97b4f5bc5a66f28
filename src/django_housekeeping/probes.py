"""Endpoints for machines: ``health/`` for load balancers and uptime monitors, ``metrics/`` for
Prometheus. Both under ``django_housekeeping.urls``.

- ``health/``: 200 ``{"status": "ok"}`` or 503 ``{"status": "unhealthy"}`` for anyone; a user with
  ``view_taskrun`` also gets the problems (:mod:`django_housekeeping.monitoring.health`).
- ``metrics/``: the Prometheus text format, for a user with ``view_taskrun`` or a scraper sending
  ``Authorization: Bearer <HOUSEKEEPING["METRICS_TOKEN"]>``; needs the ``[metrics]`` extra.

Who may see what is the control layer's decision, as on every face.
"""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from django_housekeeping.models import TaskRun
from django_housekeeping.monitoring import metrics
from django_housekeeping.monitoring.health import health as judge
from django_housekeeping.running import control

METRICS_MISSING = 'The metrics need prometheus-client: pip install "django-housekeeping[metrics]".'


def _actor(request: HttpRequest) -> control.Actor:
    return control.person(request.user, TaskRun.Trigger.DASHBOARD)


@never_cache
@require_safe
def health(request: HttpRequest) -> JsonResponse:
    state = judge()
    return JsonResponse(
        state.as_dict(details=control.allowed(_actor(request), control.VIEW)),
        status=200 if state.healthy else 503,
        encoder=DjangoJSONEncoder,
    )


@never_cache
@require_safe
def metrics_view(request: HttpRequest) -> HttpResponse:
    try:
        control.require_metrics_reader(_actor(request), request.headers.get("Authorization", ""))
    except control.ControlError as exc:
        response = JsonResponse({"detail": exc.message}, status=exc.status)
        if isinstance(exc, control.NotAuthenticated):
            response["WWW-Authenticate"] = 'Bearer realm="housekeeping metrics"'
        return response
    try:
        body, content_type = metrics.exposition(request.headers.get("Accept", ""))
    except ImportError:
        return JsonResponse({"detail": METRICS_MISSING}, status=501)
    return HttpResponse(body, content_type=content_type)

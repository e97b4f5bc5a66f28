"""The run history's pages: by keyset, newest first."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

from django_housekeeping.models import TaskRun
from django_housekeeping.presenters.runs import MAX_PK

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


ONE_MICROSECOND = timedelta(microseconds=1)


class RunPagination(BasePagination):
    """Pages of runs, newest first, by keyset: a page's ``next`` link carries where it ended (the
    last run's ``started_at`` and ``id``) and the next page is found through the history's index
    from there, so a page costs the same however long the history and however deep the page.
    Nothing counts the history (there is no ``count``).

    A cursor is ``n`` (older than) or ``p`` (newer than), then the start time in microseconds
    since 1970 (UTC) and the run's id: ``n1764518400123456.42``. One that does not have that
    form, a ``page_size`` that is no integer from 1 to 500, or a ``page`` (the page numbers of
    earlier versions) is a 400, and the schema says so."""

    # A page's rows are the one cost of the endpoint that grows with the page (each run laid out
    # for a person: its summary, its per-model table): 25 keeps a page within twice the cost of
    # an empty one (docs/benchmarks.md#a-long-history-history_scalepy); ask for up to 500.
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 500
    cursor_query_param = "cursor"
    cursor_pattern = r"^[np][0-9]{1,16}\.[0-9]{1,19}$"
    invalid_cursor_message = "Invalid cursor: use the next or previous link of a page."

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> list[Any]:
        if "page" in request.query_params:
            raise exceptions.ValidationError(
                {"page": ["Pages are not numbered: follow the next and previous links."]}
            )
        self.request = request
        size = self.get_page_size(request)
        cursor = self.decode_cursor(request)
        newer = cursor is not None and cursor[0] == "p"
        if cursor is None:
            rows = queryset.order_by("-started_at", "-id")
        else:
            _direction, started_at, pk = cursor
            # The first condition bounds the index range; the second only sorts out the runs
            # that started at that very instant.
            if newer:
                rows = queryset.filter(
                    Q(started_at__gte=started_at), Q(started_at__gt=started_at) | Q(id__gt=pk)
                ).order_by("started_at", "id")
            else:
                rows = queryset.filter(
                    Q(started_at__lte=started_at), Q(started_at__lt=started_at) | Q(id__lt=pk)
                ).order_by("-started_at", "-id")
        page = list(rows[: size + 1])
        more = len(page) > size
        page = page[:size]
        if newer:
            page.reverse()
        has_next = (not newer and more) or (newer and bool(page))
        has_previous = (newer and more) or (cursor is not None and not newer and bool(page))
        self.next_link = self.encode_cursor("n", page[-1]) if has_next else None
        self.previous_link = self.encode_cursor("p", page[0]) if has_previous else None
        return page

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise exceptions.ValidationError(
                {"page_size": [f"Must be an integer from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def decode_cursor(self, request: Request) -> tuple[str, datetime, int] | None:
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        if not re.fullmatch(self.cursor_pattern, raw):
            raise exceptions.ValidationError(
                {self.cursor_query_param: [self.invalid_cursor_message]}
            )
        micros, pk = raw[1:].split(".")
        started_at = EPOCH + int(micros) * ONE_MICROSECOND
        if not settings.USE_TZ:
            started_at = timezone.make_naive(started_at, UTC)
        return raw[0], started_at, min(int(pk), MAX_PK)

    def encode_cursor(self, direction: str, run: TaskRun) -> str:
        started_at = run.started_at
        if timezone.is_naive(started_at):
            started_at = timezone.make_aware(started_at, UTC)
        micros = (started_at - EPOCH) // ONE_MICROSECOND
        url = self.request.build_absolute_uri()
        return replace_query_param(url, self.cursor_query_param, f"{direction}{micros}.{run.pk}")

    def get_paginated_response(self, data: Any) -> Response:
        return Response({"next": self.next_link, "previous": self.previous_link, "results": data})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        link = {"type": "string", "nullable": True, "format": "uri"}
        return {
            "type": "object",
            "required": ["next", "previous", "results"],
            "properties": {
                "next": {**link, "description": "The page of older runs; null at the end."},
                "previous": {**link, "description": "The page of newer runs; null at the start."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": (
                    "Where the page starts: the `cursor` of a page's `next` or `previous` link."
                ),
                "schema": {"type": "string", "pattern": self.cursor_pattern},
            },
            {
                "name": self.page_size_query_param,
                "required": False,
                "in": "query",
                "description": f"Runs per page ({self.page_size} by default).",
                "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size},
            },
        ]

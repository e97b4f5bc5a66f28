"""What every view of the API shares: authentication, permissions, JSON in and out, errors, the
schema's boilerplate.

Authentication is the project's (``REST_FRAMEWORK["DEFAULT_AUTHENTICATION_CLASSES"]``). Every
request is checked against the housekeeping permissions by the control layer
(:mod:`django_housekeeping.running.control`), after ``HOUSEKEEPING["API_PERMISSION_CLASSES"]`` (our
:class:`~django_housekeeping.api.permissions.HousekeepingPermission` by default). Settings are read
at request time, so ``override_settings`` just works. The views are in a module per concern:
:mod:`~django_housekeeping.api.runs`, :mod:`~django_housekeeping.api.tasks`,
:mod:`~django_housekeeping.api.status`, :mod:`~django_housekeeping.api.erasures`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import cached_property
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest
from django.urls import reverse
from django.utils.module_loading import import_string
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import BaseParser, JSONParser
from rest_framework.permissions import BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import Serializer
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.views import APIView
from rest_framework.views import exception_handler as drf_exception_handler

from django_housekeeping.api import serializers as api
from django_housekeeping.bodies import MAX_BODY_BYTES, BodyError, parse_json, too_large
from django_housekeeping.conf import housekeeping_settings
from django_housekeeping.models import TaskRun
from django_housekeeping.presenters.erasures import erasure_as_dict
from django_housekeeping.presenters.runs import conflict_payload
from django_housekeeping.running import control

APP_NAME = "django_housekeeping_api"


# Stands for a run's id in its URL, reversed once a request (BaseView.run_url).
RUN_MARK = 9_876_543_210_123


class JSONOnlyNegotiation(BaseContentNegotiation):
    """The API speaks JSON whatever the client's Accept header says."""

    def select_parser(self, request: Request, parsers: Iterable[BaseParser]) -> BaseParser | None:
        for parser in parsers:
            if parser.media_type == request.content_type.split(";")[0].strip():
                return parser
        return None

    def select_renderer(
        self, request: Request, renderers: Iterable[BaseRenderer], format_suffix: str | None = None
    ) -> tuple[BaseRenderer, str]:
        renderer = next(iter(renderers))
        return renderer, renderer.media_type


class BoundedJSONParser(JSONParser):
    """JSON bodies up to :data:`~django_housekeeping.bodies.MAX_BODY_BYTES` and
    :data:`~django_housekeeping.bodies.MAX_DEPTH` levels, parsed like the dashboard's."""

    def parse(
        self,
        stream: Any,
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        try:
            return parse_json(stream.read(MAX_BODY_BYTES + 1) if stream is not None else b"")
        except BodyError as exc:
            raise BodyRefused(exc) from None


class BodyRefused(exceptions.APIException):
    def __init__(self, error: BodyError) -> None:
        super().__init__(error.message)
        self.status_code = error.status


def _instances(classes: Sequence[Any]) -> list[Any]:
    """Instances of classes given as classes or dotted paths."""
    return [(import_string(cls) if isinstance(cls, str) else cls)() for cls in classes]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, with every error as ``{"detail": "...", "errors": {...}}``, and the control
    layer's refusals with their status (409 with the running run, 429 with ``Retry-After``)."""
    if isinstance(exc, control.ControlError):
        return _control_response(exc, context)
    if isinstance(exc, RequestDataTooBig):  # DRF reads JSON bodies through request.body
        return Response({"detail": too_large().message}, status=too_large().status)
    response = drf_exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.ValidationError):
        return response
    errors = (
        response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
    )
    errors = {field: _messages(messages) for field, messages in errors.items()}
    response.data = {
        "detail": "; ".join(
            message if field == "non_field_errors" else f"{field}: {message}"
            for field, messages in errors.items()
            for message in messages
        ),
        "errors": errors,
    }
    return response


def _control_response(exc: control.ControlError, context: dict[str, Any]) -> Response:
    if isinstance(exc, control.Held):
        held = {
            "detail": exc.message,
            "held": exc.held_rows,
            "erasure": erasure_as_dict(exc.record) if exc.record is not None else None,
        }
        return Response(api.HeldSerializer(held).data, status=exc.status)
    if isinstance(exc, control.Conflict):
        view = context.get("view")
        run_url = view.run_url if isinstance(view, HousekeepingAPIView) else None
        conflict = conflict_payload(exc, run_url)
        return Response(api.ConflictSerializer(conflict).data, status=exc.status)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, control.Throttled) else None
    return Response({"detail": exc.message}, status=exc.status, headers=headers)


def _messages(value: Any) -> list[str]:
    if isinstance(value, list):
        return [message for item in value for message in _messages(item)]
    if isinstance(value, dict):
        return [f"{key}: {message}" for key, item in value.items() for message in _messages(item)]
    return [str(value)]


class HousekeepingAPIView(APIView):
    """The policies every view of the API shares."""

    renderer_classes = [JSONRenderer]
    parser_classes = [BoundedJSONParser]
    content_negotiation_class = JSONOnlyNegotiation
    schema = AutoSchema()
    # What each HTTP method of the view does, in the control layer's terms.
    actions: Mapping[str, str] = {"GET": control.VIEW}

    def housekeeping_action(self, request: Request) -> str:
        return self.actions.get(request.method or "GET", control.VIEW)

    @property
    def actor(self) -> control.Actor:
        return control.person(self.request.user, TaskRun.Trigger.API)

    def get_authenticators(self) -> list[BaseAuthentication]:
        return _instances(api_settings.DEFAULT_AUTHENTICATION_CLASSES)

    def get_permissions(self) -> list[BasePermission]:
        return _instances(housekeeping_settings.API_PERMISSION_CLASSES)

    def check_permissions(self, request: Request) -> None:
        """The configured classes, then the housekeeping permissions whatever they said."""
        super().check_permissions(request)
        action = self.housekeeping_action(request)
        if not control.allowed(self.actor, action):
            self.permission_denied(request, message=control.denial_message(action))

    def get_throttles(self) -> list[BaseThrottle]:
        # The project's throttles; triggers are throttled by the control layer, on every face.
        return _instances(api_settings.DEFAULT_THROTTLE_CLASSES)

    def get_authenticate_header(self, request: Request) -> str:
        """The challenge of the first authentication class that has one.

        DRF asks the first class only, and answers 403 instead of 401 when it has none (session
        authentication): a request without credentials gets 401 here whenever any configured
        class can say how to authenticate.
        """
        for authenticator in self.get_authenticators():
            header = authenticator.authenticate_header(request)
            if header:
                return str(header)
        return ""  # no challenge: DRF answers 403

    def get_exception_handler(self) -> Callable[[Exception, dict[str, Any]], Response | None]:
        return exception_handler

    def run_url(self, pk: int) -> str:
        prefix, suffix = self._run_url_around_pk
        return f"{prefix}{pk}{suffix}"

    @cached_property
    def _run_url_around_pk(self) -> tuple[str, str]:
        """A run's absolute URL before and after its id: reversed once a request, not once a
        run of a page."""
        match = self.request.resolver_match
        namespace = match.namespace if match is not None and match.namespace else APP_NAME
        url = self.request.build_absolute_uri(reverse(f"{namespace}:run-detail", args=[RUN_MARK]))
        prefix, _mark, suffix = url.rpartition(str(RUN_MARK))
        return prefix, suffix

    def validated_query(self, serializer_class: type[Serializer[Any]]) -> dict[str, Any]:
        """The query string, validated; a parameter given empty (``?task=``) is an error, not
        a parameter left out (DRF's reading of an HTML form)."""
        blank = {
            name: ["This parameter may not be empty."]
            for name, _field in serializer_class().fields.items()
            if self.request.query_params.get(name, None) == ""
        }
        if blank:
            raise exceptions.ValidationError(blank)
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


ERRORS = {
    401: OpenApiResponse(api.ErrorSerializer, description="No or invalid credentials."),
    403: OpenApiResponse(
        api.ErrorSerializer, description="Without the housekeeping permission this needs."
    ),
}


BAD_REQUEST = OpenApiResponse(
    api.ErrorSerializer, description="Invalid parameters; the message names the valid choices."
)


NOT_FOUND = OpenApiResponse(api.ErrorSerializer, description="No such resource.")


def document(**kwargs: Any) -> Callable[[Any], Any]:
    """``@extend_schema`` for a view's method, on drf-spectacular's AutoSchema.

    ``@extend_schema`` builds a method's schema on ``DEFAULT_SCHEMA_CLASS``, which a project need
    not have set to drf-spectacular's: the method names the base to use first.
    """

    def decorator(method: Any) -> Any:
        method.kwargs = {"schema": AutoSchema}
        return extend_schema(**kwargs)(method)

    return decorator


class NotFoundView(HousekeepingAPIView):
    """Any other URL under the API's prefix: 404 as JSON (after authentication)."""

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Response:
        raise exceptions.NotFound(f"The API has no {request.path_info!r}.")

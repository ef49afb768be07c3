"""One place that turns every error into ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from django.urls import Resolver404, resolve
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from predictmarket.errors import (
    DomainError,
    RateLimited,
    ServiceUnavailable,
    out_of_range_error,
    outage_error,
)

logger = logging.getLogger(__name__)

_DRF_CODES = {
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "rate_limited",
    exceptions.ParseError: "malformed_request",
    exceptions.ValidationError: "validation_failed",
}


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or {}}}


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    if (out_of_range := out_of_range_error(exc)) is not None:
        # A missed bound in a service: the log names it, the client gets a 400.
        logger.warning("number out of range reached the API: %r", exc, exc_info=exc)
        exc = out_of_range
    elif (outage := outage_error(exc)) is not None:
        # Expected while PostgreSQL or Redis restarts; one line each, not a trace.
        logger.warning("API request failed during an outage: %r", exc)
        exc = outage
    if isinstance(exc, DomainError):
        details = dict(exc.details)
        field = details.get("field")
        if isinstance(field, str) and field not in details:
            # Serializer errors key their messages by field name; say a service's the
            # same way, so a client finds ``details[<field>]`` for every 400.
            details[field] = [exc.message]
        response = Response(error_body(exc.code, exc.message, details), status=exc.http_status)
        if isinstance(exc, RateLimited | ServiceUnavailable):
            response["Retry-After"] = str(exc.retry_after)
        return response
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None:
        # Unexpected: the client gets a short id, the log and Sentry the trace.
        error_id = uuid.uuid4().hex[:8]
        logger.exception("unhandled API error %s", error_id)
        return Response(
            error_body(
                "internal_error",
                f"Something went wrong (error id {error_id}).",
                {"error_id": error_id},
            ),
            status=status.HTTP_500_INTERNAL_SERVER_ERROR,
        )
    code = next((c for cls, c in _DRF_CODES.items() if isinstance(exc, cls)), "error")
    if isinstance(exc, exceptions.ValidationError):
        message = "Some of the input is not valid."
        details = response.data if isinstance(response.data, dict) else {"input": response.data}
    else:
        message = str(getattr(exc, "detail", exc))
        details = {}
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        details = {"retry_after": int(exc.wait + 0.999)}
    response.data = error_body(code, message, details)
    return response


@csrf_exempt  # like every API view: keys, not cookies, so a POST gets its 404, not a CSRF 403
def api_not_found(request: HttpRequest, *args: object, **kwargs: object) -> JsonResponse:
    """Any path under /api/v1/ that names no endpoint: a 404 in the envelope, not HTML."""
    details: dict[str, str] = {}
    if not request.path.endswith("/"):
        # This catch-all resolves every path, so Django's APPEND_SLASH redirect never
        # happens here: name the endpoint the client probably meant instead.
        try:
            match = resolve(f"{request.path}/")
        except Resolver404:
            match = None
        if match is not None and match.func is not api_not_found:
            details["did_you_mean"] = f"{request.path}/"
    return JsonResponse(
        error_body("not_found", "There is no such API endpoint.", details), status=404
    )

"""Shared OpenAPI pieces: the error envelope every endpoint may answer with."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class ErrorDetail(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine-readable code, e.g. insufficient_points")
    message = serializers.CharField(help_text="A sentence to show a person")
    details = serializers.DictField(help_text="Extra facts: the field at fault, retry_after, …")


class ErrorEnvelope(serializers.Serializer):
    error = ErrorDetail()


def _error(description: str, code: str, message: str) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorEnvelope,
        description=description,
        examples=[
            OpenApiExample(code, value={"error": {"code": code, "message": message, "details": {}}})
        ],
    )


ERRORS = {
    400: _error("Invalid input", "validation_failed", "Some of the input is not valid."),
    401: _error(
        "No or invalid API key",
        "not_authenticated",
        "Authentication credentials were not provided.",
    ),
    403: _error("Not allowed", "permission_denied", "Only moderators can do that."),
    404: _error("Not found (or in another guild)", "not_found", "That does not exist."),
    # Answered by the web server (gunicorn's limit_request_line, or a proxy's) before
    # Django runs, so it is not in the JSON envelope.
    414: OpenApiResponse(
        description="The URL is too long (over about 4 KB): refused by the web server, "
        "with its own plain page, not the JSON envelope"
    ),
    429: _error("Rate limited; see Retry-After", "rate_limited", "Too many requests."),
}
WRITE_ERRORS = {
    **ERRORS,
    409: _error(
        "Conflicting state or reused Idempotency-Key",
        "conflict",
        "That conflicts with an earlier request.",
    ),
    422: _error(
        "Not enough points or shares",
        "insufficient_points",
        "You do not have enough points for that.",
    ),
}

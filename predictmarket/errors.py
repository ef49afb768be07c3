"""Domain errors: one hierarchy, each with a stable code and a user-facing message.

Services raise these; the API's exception handler and the bot's error handler
map them to HTTP responses (``{"error": {"code", "message", "details"}}``) and
ephemeral Discord replies in one place each.
"""

from __future__ import annotations

import decimal
from typing import Any

import psycopg
import redis
from django.db import DataError, InterfaceError, OperationalError


class DomainError(Exception):
    code: str = "error"
    http_status: int = 400
    default_message: str = "The request could not be completed."

    def __init__(self, message: str | None = None, **details: Any) -> None:
        self.message = message or self.default_message
        self.details = details
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationFailed(DomainError):
    code = "validation_failed"
    http_status = 400
    default_message = "Some of the input is not valid."


class InsufficientPoints(DomainError):
    code = "insufficient_points"
    http_status = 422
    default_message = "You do not have enough points for that."


class NotFound(DomainError):
    code = "not_found"
    http_status = 404
    default_message = "That does not exist."


class PermissionDenied(DomainError):
    code = "permission_denied"
    http_status = 403
    default_message = "You are not allowed to do that."


class Conflict(DomainError):
    code = "conflict"
    http_status = 409
    default_message = "That conflicts with an earlier request."


class IdempotencyConflict(Conflict):
    code = "idempotency_conflict"
    default_message = "This request id was already used for a different request."


class InvalidState(DomainError):
    """The object exists but is in a state that does not allow the operation."""

    code = "invalid_state"
    http_status = 409
    default_message = "That cannot be done right now."


class AccountFrozen(PermissionDenied):
    code = "account_frozen"
    default_message = "Your account is frozen by the moderators."


class RateLimited(DomainError):
    code = "rate_limited"
    http_status = 429
    default_message = "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: int, **details: Any) -> None:
        self.retry_after = max(1, int(retry_after))
        super().__init__(
            message or f"Too many requests: try again in {self.retry_after} s.",
            retry_after=self.retry_after,
            **details,
        )


class ExternalServiceError(DomainError):
    code = "external_service_error"
    http_status = 503
    default_message = "An external service is not answering; please try again shortly."


class ServiceUnavailable(DomainError):
    """Our own database or Redis dropped out mid-request (a restart, a failover)."""

    code = "service_unavailable"
    http_status = 503
    default_message = "The service is briefly unavailable; please try again in a few seconds."
    retry_after = 5


class ModeratorCheckUnavailable(DomainError):
    """Discord could not say whether someone moderates: the action is refused, not guessed."""

    code = "moderator_check_unavailable"
    http_status = 503
    default_message = (
        "Discord could not be asked whether you are a moderator right now, so nothing was "
        "done. Please try again in a minute."
    )


class ValueOutOfRange(ValidationFailed):
    code = "value_out_of_range"
    default_message = "A value in this request is too large (or too long) to store."


# What a value too large for the database (a number past BIGINT, a text past
# its column), for ``float`` conversion or for ``Decimal`` raises. Services
# validate their input first, so one of these reaching a caller is a missed
# check; it still means the input, never an outage, and nothing was written
# (the transaction rolled back with it).
_OUT_OF_RANGE = (
    DataError,
    psycopg.errors.NumericValueOutOfRange,
    OverflowError,
    decimal.Overflow,
)


def out_of_range_error(exc: BaseException) -> ValueOutOfRange | None:
    """The domain error for an overflow that escaped a service's validation, else None.

    The API's exception handler and the bot's error handler use it as their
    last line, so such a request is a clear 400 / ephemeral reply, not a 500.
    """
    if isinstance(exc, _OUT_OF_RANGE):
        return ValueOutOfRange()
    return None


# A server of our own gone for a moment: PostgreSQL restarting (the pool's
# connections are cut, a new one is refused or times out) or Redis down (the
# rate limiter and the cache reach it on every request). The transaction the
# request was in rolled back, and the pool and the Redis client reconnect by
# themselves: a retryable 503, not an "unexpected" 500 with a trace per request.
_OUTAGES = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def outage_error(exc: BaseException) -> ServiceUnavailable | None:
    """The domain error for a database or Redis outage that reached a caller, else None."""
    if isinstance(exc, _OUTAGES):
        return ServiceUnavailable()
    return None

"""Turning errors into replies: domain errors by their message, the rest by an error id.

Domain errors already carry a message written for the member (``exc.message``).
Anything else is a bug or an outage: the member sees a short error id, and the
same id is in the log line (with the traceback) and in the Sentry event, so a
moderator's report can be matched to the trace.
"""

from __future__ import annotations

import logging
import secrets

import sentry_sdk

from predictmarket.errors import DomainError, RateLimited

logger = logging.getLogger("botrunner.errors")


def new_error_id() -> str:
    return secrets.token_hex(4)  # 8 hex characters: short enough to read out


def domain_error_text(exc: DomainError) -> str:
    if isinstance(exc, RateLimited):
        # The limiter's own message already names the limit and the wait; keep
        # the retry time explicit even if a caller passed a custom message.
        text = exc.message
        if str(exc.retry_after) not in text:
            text = f"{text} Try again in {exc.retry_after} s."
        return f"⏳ {text}"
    return f"⚠️ {exc.message}"


def unexpected_error_text(exc: BaseException, *, command: str) -> tuple[str, str]:
    """Log and report ``exc``; return (error id, what the member is told)."""
    error_id = new_error_id()
    logger.exception(
        "unexpected error in %s (error id %s)",
        command,
        error_id,
        exc_info=exc,
        extra={"error_id": error_id, "command": command},
    )
    with sentry_sdk.new_scope() as scope:
        scope.set_tag("error_id", error_id)
        scope.set_tag("command", command)
        sentry_sdk.capture_exception(exc)
    return error_id, (
        f"❌ Something went wrong on our side. Error id: `{error_id}` — "
        "give it to a moderator if this keeps happening."
    )

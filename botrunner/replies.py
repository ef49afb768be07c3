"""Turning errors into replies: domain errors by their message, the rest by an error id.

Domain errors already carry a message written for the member (``exc.message``).
Anything else is a bug or an outage: the member sees a short error id, and the
same id is in the log line (with the traceback) and in the Sentry event, so a
moderator's report can be matched to the trace.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from datetime import UTC, datetime

import sentry_sdk

from botrunner.text import relative_time
from predictmarket.errors import DomainError, RateLimited

logger = logging.getLogger("botrunner.errors")


def new_error_id() -> str:
    return secrets.token_hex(4)  # 8 hex characters: short enough to read out


# The services write waits for every caller alike ("Try again in 37 s.", "opens
# at 2025-03-01 09:30 UTC."); on Discord the same moment is a timestamp that each
# reader sees counting down in their own language and time zone (``<t:…:R>``),
# still true however long the reply sits on screen. The moment itself comes from
# the error's details, not from the sentence.
_TRY_AGAIN_IN = re.compile(r"\s*[Tt]ry again in \d+ s\.")
_AT_UTC = re.compile(r"\bat \d{4}-\d\d-\d\d \d\d:\d\d UTC\b")
_SHORTLY = re.compile(r"\bshortly\b")


def _moment_after(seconds: float) -> datetime:
    # Rounded up: a member who comes back at the moment shown is let in.
    return datetime.fromtimestamp(int(time.time() + seconds + 0.999), tz=UTC)


def domain_error_text(exc: DomainError) -> str:
    if isinstance(exc, RateLimited):
        # The limiter's message names the limit; the wait is replaced by the moment.
        retry_at = relative_time(_moment_after(exc.retry_after))
        text = _TRY_AGAIN_IN.sub("", exc.message).rstrip()
        return f"⏳ {text} Try again {retry_at}."
    text = exc.message
    next_at = exc.details.get("next_claim_at")  # a daily claim not yet open again
    if isinstance(next_at, str) and _AT_UTC.search(text):
        text = _AT_UTC.sub(relative_time(datetime.fromisoformat(next_at)), text)
    retry_after = exc.details.get("retry_after")  # DRIP answered 429 with Retry-After
    if isinstance(retry_after, int | float) and _SHORTLY.search(text):
        text = _SHORTLY.sub(relative_time(_moment_after(retry_after)), text)
    return f"⚠️ {text}"


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

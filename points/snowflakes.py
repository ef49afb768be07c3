"""Discord snowflakes: positive 64-bit integers."""

from __future__ import annotations

from django.core.exceptions import ValidationError

from predictmarket.errors import ValidationFailed

MAX_SNOWFLAKE = 2**63 - 1  # stored in a signed BIGINT


def parse_snowflake(value: object, *, field: str = "id") -> int:
    """Return ``value`` as a snowflake or raise ``ValidationFailed`` naming ``field``."""
    if isinstance(value, bool):
        raise ValidationFailed(f"{field} must be a Discord id.", field=field)
    if isinstance(value, str):
        value = value.strip()
        if not value.isdigit():
            raise ValidationFailed(f"{field} must be a Discord id (digits only).", field=field)
    try:
        number = int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        raise ValidationFailed(f"{field} must be a Discord id.", field=field) from None
    if isinstance(value, float) or not 0 < number <= MAX_SNOWFLAKE:
        raise ValidationFailed(
            f"{field} must be a Discord id (a positive 64-bit number).", field=field
        )
    return number


def validate_snowflake(value: object) -> None:
    """Django field validator for forms and the admin."""
    try:
        parse_snowflake(value)
    except ValidationFailed as exc:
        raise ValidationError(exc.message) from None

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
        # ASCII only: str.isdigit() also accepts other scripts' digits ("١٢٣").
        if not (value.isascii() and value.isdigit()) or len(value) > 20:
            raise ValidationFailed(f"{field} must be a Discord id (digits only).", field=field)
        number = int(value)
    elif isinstance(value, int):
        number = value
    else:  # floats, Decimals and anything else are not ids, even when whole
        raise ValidationFailed(f"{field} must be a Discord id.", field=field)
    if not 0 < number <= MAX_SNOWFLAKE:
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

"""Parsing what members type: durations (``1d12h``) and answer lists (one per line).

Both raise ``ValidationFailed`` with a message written for the member, so the
bot's error mapping shows it as is. The market service validates again; these
exist to turn free text into the service's types with a helpful message.
"""

from __future__ import annotations

import re
from datetime import timedelta

from markets.validation import MAX_DURATION, MAX_OPTIONS, MIN_DURATION, MIN_OPTIONS, OPTION_MAX
from predictmarket.errors import ValidationFailed

_UNIT_SECONDS = {"d": 86_400, "h": 3_600, "m": 60}
# One or more "<number><unit>" parts, optionally separated by spaces: "1d 12h", "45m".
_DURATION = re.compile(r"^(?:\s*\d{1,6}\s*[dhm])+\s*$")
_PART = re.compile(r"(\d{1,6})\s*([dhm])")
DURATION_HELP = "Use days, hours and minutes, such as 45m, 2h, 3d or 1d12h."


def parse_duration(text: str | None) -> timedelta:
    """``45m``, ``2h``, ``3d``, ``1d12h``, ``1d 6h 30m`` (any case) → a timedelta.

    The total must be from 1 minute to 30 days, the market's allowed range.
    """
    cleaned = (text or "").strip().lower()
    if not cleaned or not _DURATION.match(cleaned):
        raise ValidationFailed(f"I could not read the duration {text!r}. {DURATION_HELP}")
    seconds = sum(int(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(cleaned))
    duration = timedelta(seconds=seconds)
    if duration < MIN_DURATION:
        raise ValidationFailed("The market must stay open for at least 1 minute.")
    if duration > MAX_DURATION:
        raise ValidationFailed("The market can stay open for at most 30 days.")
    return duration


def format_duration(duration: timedelta) -> str:
    """The inverse, for messages: ``1d 12h``, ``45m``."""
    total = int(duration.total_seconds()) // 60
    days, rest = divmod(total, 1440)
    hours, minutes = divmod(rest, 60)
    parts = [f"{v}{u}" for v, u in ((days, "d"), (hours, "h"), (minutes, "m")) if v]
    return " ".join(parts) or "0m"


def parse_options(text: str | None) -> list[str]:
    """One answer per line; blank lines dropped; 2 to 10 distinct answers (case-insensitive)."""
    options = [line.strip() for line in (text or "").splitlines() if line.strip()]
    if len(options) < MIN_OPTIONS:
        raise ValidationFailed(
            f"A market needs at least {MIN_OPTIONS} answers, one per line (got {len(options)})."
        )
    if len(options) > MAX_OPTIONS:
        raise ValidationFailed(
            f"A market can have at most {MAX_OPTIONS} answers (got {len(options)})."
        )
    seen: dict[str, int] = {}
    for number, option in enumerate(options, start=1):
        if len(option) > OPTION_MAX:
            raise ValidationFailed(
                f"Answer {number} is {len(option)} characters long; the limit is {OPTION_MAX}."
            )
        key = option.casefold()
        if key in seen:
            raise ValidationFailed(
                f"Answer {number} ({option!r}) repeats answer {seen[key]}: "
                "each answer must be different."
            )
        seen[key] = number
    return options


def parse_id(text: object, *, what: str = "market") -> int:
    """A market id typed or picked from autocomplete: ``12``, ``#12``, ``#12 Will it…``."""
    match = re.match(r"^\s*#?(\d{1,18})\b", str(text or ""))
    if not match:
        raise ValidationFailed(f"Pick a {what} from the list (or type its number).")
    return int(match.group(1))

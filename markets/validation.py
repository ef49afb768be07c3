"""Input rules for new markets (DESIGN.md, lifecycle)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from predictmarket.errors import ValidationFailed

QUESTION_MAX = 500
DESCRIPTION_MAX = 2000
OPTION_MAX = 100
CATEGORY_MAX = 50
MIN_OPTIONS = 2
MAX_OPTIONS = 10
MIN_DURATION = timedelta(minutes=1)
MAX_DURATION = timedelta(days=30)


@dataclass(frozen=True)
class MarketInput:
    question: str
    options: tuple[str, ...]
    duration: timedelta
    category: str
    description: str


def clean_market_input(
    *,
    question: str,
    options: Sequence[str],
    duration: timedelta,
    category: str = "",
    description: str = "",
) -> MarketInput:
    """Trim and check everything; the first problem found is a ``ValidationFailed``."""
    question = (question or "").strip()
    if not question:
        raise ValidationFailed("The question cannot be empty.", field="question")
    if len(question) > QUESTION_MAX:
        raise ValidationFailed(
            f"The question must be at most {QUESTION_MAX} characters (it has {len(question)}).",
            field="question",
        )
    if isinstance(options, str) or not isinstance(options, Sequence):
        raise ValidationFailed("Options must be a list of answers.", field="options")
    cleaned: list[str] = []
    seen: set[str] = set()
    for number, option in enumerate(options, start=1):
        text = str(option).strip()
        if not text:
            raise ValidationFailed(f"Option {number} is empty.", field="options")
        if len(text) > OPTION_MAX:
            raise ValidationFailed(
                f"Option {number} must be at most {OPTION_MAX} characters.", field="options"
            )
        if text.casefold() in seen:
            raise ValidationFailed(f"Option {number} ({text!r}) is a duplicate.", field="options")
        seen.add(text.casefold())
        cleaned.append(text)
    if not MIN_OPTIONS <= len(cleaned) <= MAX_OPTIONS:
        raise ValidationFailed(
            f"A market needs {MIN_OPTIONS} to {MAX_OPTIONS} options (got {len(cleaned)}).",
            field="options",
        )
    if not isinstance(duration, timedelta) or not MIN_DURATION <= duration <= MAX_DURATION:
        raise ValidationFailed(
            "The market must stay open between 1 minute and 30 days.", field="duration"
        )
    category = (category or "").strip()
    if len(category) > CATEGORY_MAX:
        raise ValidationFailed(
            f"The category must be at most {CATEGORY_MAX} characters.", field="category"
        )
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise ValidationFailed(
            f"The description must be at most {DESCRIPTION_MAX} characters.", field="description"
        )
    return MarketInput(question, tuple(cleaned), duration, category, description)

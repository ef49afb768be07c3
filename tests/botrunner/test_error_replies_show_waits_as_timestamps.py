"""Refusals that carry a wait show it as a Discord timestamp, computed from the error's details."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta

from botrunner.replies import domain_error_text
from points.drip.client import DripUnavailable
from points.services import DailyNotReady
from predictmarket.errors import RateLimited

TIMESTAMP = re.compile(r"<t:(\d+):R>")


def moment(text: str) -> int:
    [found] = TIMESTAMP.findall(text)
    return int(found)


def test_the_limiter_wait_becomes_the_moment_to_retry() -> None:
    message = "Slow down: at most 5 bets per minute. Try again in 37 s."
    before = time.time()
    text = domain_error_text(RateLimited(message, retry_after=37))
    assert text.startswith("⏳ Slow down: at most 5 bets per minute. Try again <t:")
    assert before + 37 <= moment(text) <= time.time() + 38
    assert "37 s" not in text


def test_a_limit_with_its_default_message_also_gets_the_moment() -> None:
    text = domain_error_text(RateLimited(retry_after=5))
    assert "in 5 s" not in text
    assert time.time() + 4 <= moment(text) <= time.time() + 6


def test_a_daily_claim_not_yet_open_shows_when_it_opens() -> None:
    opens = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=20)
    refused = DailyNotReady(
        f"You already claimed your daily points. The next claim opens at "
        f"{opens:%Y-%m-%d %H:%M} UTC.",
        next_claim_at=opens.isoformat(),
    )
    text = domain_error_text(refused)
    opens_at = f"<t:{int(opens.timestamp())}:R>"
    assert text == f"⚠️ You already claimed your daily points. The next claim opens {opens_at}."


def test_a_busy_drip_says_when_to_try_again() -> None:
    busy = DripUnavailable("DRIP is busy; please try again shortly.", status=429, retry_after=2.5)
    text = domain_error_text(busy)
    assert "shortly" not in text
    assert time.time() + 2 <= moment(text) <= time.time() + 4


def test_errors_without_a_wait_are_unchanged() -> None:
    assert domain_error_text(DripUnavailable()) == f"⚠️ {DripUnavailable().message}"

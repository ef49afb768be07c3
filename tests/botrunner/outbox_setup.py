"""A posted market and a consumer whose cursor starts at the test's first event."""

from __future__ import annotations

from typing import Any

from betting.services import bet_place
from botrunner.outbox_consumer import CONSUMER, OutboxConsumer
from markets.models import Market
from markets.services import market_set_discord_message
from points.models import Member
from predictmarket.outbox import outbox_acknowledge, outbox_append
from tests.botrunner.discord_fakes import FakeClock, FakeDiscord

CHANNEL_ID = 880_000_000_000_000_101
MESSAGE_ID = 881_000_000_000_000_101


def start_cursor_here() -> None:
    """Ids come from a sequence that does not restart between tests: skip what came before."""
    baseline = outbox_append(kind="test.baseline", guild_id=None)
    outbox_acknowledge(CONSUMER, baseline.id)


def post(market: Market) -> None:
    market_set_discord_message(market_id=market.pk, channel_id=CHANNEL_ID, message_id=MESSAGE_ID)


def consumer(discord: FakeDiscord, clock: FakeClock, **kwargs: Any) -> OutboxConsumer:
    kwargs.setdefault("debounce", 5.0)
    kwargs.setdefault("with_charts", False)  # charts have their own test; these are about timing
    return OutboxConsumer(discord, clock=clock, sleep=clock.sleep, **kwargs)


def trade(member: Member, market: Market, outcome: int, amount: int, key: str) -> None:
    bet_place(
        member=member,
        market_id=market.pk,
        outcome_index=outcome,
        amount=amount,
        idempotency_key=key,
        bypass_rate_limit=True,
    )

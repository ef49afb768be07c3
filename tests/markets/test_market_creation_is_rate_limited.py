"""A guild opens at most 10 markets an hour; moderators bypass the limit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from markets.models import Market
from markets.services import market_create
from points.models import Guild, Member
from predictmarket.errors import RateLimited
from tests.markets.helpers import make_guild, make_member, money_state, refused

# Early in an hour, so the fixed one-hour window cannot roll over mid-test.
START = datetime(2030, 5, 1, 10, 2, tzinfo=UTC)


def _create(creator: Member, number: int, *, moderator: bool = False) -> Market:
    return market_create(
        creator=creator,
        question=f"Question number {number}?",
        options=["Yes", "No"],
        duration=timedelta(days=1),
        actor=f"discord:{creator.discord_id}",
        bypass_rate_limit=moderator,
    )


@pytest.fixture
def clock() -> time_machine.Coordinates:
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


def test_it_refuses_the_eleventh_market_in_an_hour(
    clock: time_machine.Coordinates, guild: Guild, creator: Member, bettor: Member
) -> None:
    for number in range(10):
        _create(creator if number % 2 else bettor, number)  # the limit is per guild

    before = money_state()
    with refused(RateLimited) as info:
        _create(creator, 10)
    assert money_state() == before
    assert 0 < info.value.retry_after <= 3600
    assert Market.objects.filter(guild=guild).count() == 10


def test_it_lets_a_moderator_create_past_the_limit(
    clock: time_machine.Coordinates, guild: Guild, creator: Member
) -> None:
    for number in range(10):
        _create(creator, number)
    with refused(RateLimited):
        _create(creator, 10)

    _create(creator, 11, moderator=True)
    assert Market.objects.filter(guild=guild).count() == 11


def test_it_counts_each_guild_separately_and_resets_next_hour(
    clock: time_machine.Coordinates, creator: Member
) -> None:
    for number in range(10):
        _create(creator, number)
    elsewhere = make_member(make_guild(), "elsewhere")
    _create(elsewhere, 0)  # another guild's quota is untouched

    clock.shift(timedelta(hours=1))
    _create(creator, 10)
    assert Market.objects.filter(guild=creator.guild).count() == 11

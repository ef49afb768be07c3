"""A market keeps the votes it needs and its refund delay from when it was created.

Members bet knowing the rules on the market's card; a moderator changing the
guild's settings later affects new markets only.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from betting.tasks import auto_refund_sweep
from markets.models import MarketStatus
from markets.services import market_close, resolution_vote
from points.models import Guild
from points.services import guild_update_settings
from tests.betting.helpers import bet
from tests.markets.helpers import MODERATORS, make_guild, make_market, make_member

pytestmark = pytest.mark.django_db

START = datetime(2030, 9, 1, 12, 0, tzinfo=UTC)


def _set(guild: Guild, **changes: object) -> None:
    guild_update_settings(guild_id=guild.pk, actor=MODERATORS[0], **changes)


def test_raising_the_guilds_vote_count_does_not_strand_a_market_that_has_its_votes() -> None:
    guild = make_guild(min_resolution_votes=2)
    market = make_market(make_member(guild, "creator"))
    _set(guild, min_resolution_votes=3)
    market_close(market_id=market.pk, actor=MODERATORS[0])

    resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=0)
    result = resolution_vote(market_id=market.pk, voter=MODERATORS[1], outcome_index=0)

    assert (result.votes_needed, result.decided) == (2, True)
    market.refresh_from_db()
    assert market.status == MarketStatus.RESOLVED
    # A market created now follows the new setting.
    assert make_market(make_member(guild)).min_resolution_votes == 3


def test_lowering_the_guilds_vote_count_does_not_let_fewer_votes_decide() -> None:
    guild = make_guild(min_resolution_votes=3)
    market = make_market(make_member(guild, "creator"))
    _set(guild, min_resolution_votes=1)
    market_close(market_id=market.pk, actor=MODERATORS[0])

    result = resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=0)

    assert (result.votes_needed, result.decided) == (3, False)


def test_shortening_the_guilds_refund_delay_does_not_refund_a_market_members_wait_on() -> None:
    guild = make_guild(auto_refund_hours=120)
    with time_machine.travel(START, tick=False) as clock:
        market = make_market(make_member(guild, "creator"), duration=timedelta(hours=1))
        bet(make_member(guild, "bettor"), market, 0, 100)
        _set(guild, auto_refund_hours=1)

        clock.move_to(market.closes_at + timedelta(hours=2))
        assert auto_refund_sweep() == 0
        market.refresh_from_db()
        assert market.status == MarketStatus.OPEN

        clock.move_to(market.closes_at + timedelta(hours=120))
        assert auto_refund_sweep() == 1
    market.refresh_from_db()
    assert market.status == MarketStatus.REFUNDED


def test_the_card_shows_the_markets_own_rules() -> None:
    from botrunner.embeds import market_rules
    from botrunner.reads import market_card

    guild = make_guild(min_resolution_votes=3, auto_refund_hours=48, fee_bps=150)
    market = make_market(make_member(guild, "creator"))
    _set(guild, min_resolution_votes=1, auto_refund_hours=200, fee_bps=0)

    rules = market_rules(market_card(market.pk, guild_id=guild.pk))

    assert "3 agreeing moderator votes" in rules
    assert "48 h after closing" in rules
    assert "fee 1.5%" in rules
    assert "all trades on it are unwound" in rules

"""A market's snapshot lists its latest trades (newest first) and its largest holders, with
the names, sides and outcomes the pages show, exactly as the trade and position rows say."""

from __future__ import annotations

from decimal import Decimal

import pytest

from betting.models import Position, Trade, TradeSide
from markets.snapshots import HolderLine, TradeLine, snapshot_build
from tests.betting.helpers import bet, sell
from tests.markets.helpers import make_guild, make_market, make_member


@pytest.mark.django_db
def test_its_recent_trades_and_holders_match_the_rows() -> None:
    guild = make_guild(default_liquidity=1000)
    alice, bob = make_member(guild, "Alice"), make_member(guild, "Bob")
    market = make_market(alice, options=("Yes", "No"))
    bet(alice, market, 0, 50)
    bet(bob, market, 1, 80)
    sell(alice, market, 0, Decimal("10"))

    snapshot = snapshot_build(guild_id=guild.pk, market_id=market.pk)

    trades = Trade.objects.filter(market=market).order_by("-id")
    assert snapshot.recent_trades == tuple(
        TradeLine(
            created_at=t.created_at,
            member_name=t.member.display_name,
            side=t.side,
            side_label=t.get_side_display(),
            outcome_label=t.outcome.label,
            points=t.points,
            shares=t.shares,
        )
        for t in trades
    )
    newest = snapshot.recent_trades[0]
    assert (newest.member_name, newest.side, newest.outcome_label) == ("Alice", "sell", "Yes")
    assert newest.side_label == TradeSide.SELL.label
    positions = Position.objects.filter(market=market, shares__gt=0).order_by("-shares", "id")
    assert snapshot.holders == tuple(
        HolderLine(p.member.display_name, p.outcome.label, p.shares) for p in positions
    )
    assert [h.display_name for h in snapshot.holders] == ["Bob", "Alice"]

"""Creating a market moves its liquidity from the house to a new escrow and records it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from markets.models import MarketStatus
from markets.selectors import market_price_history
from points.models import Guild, LedgerTransaction, Member, TransactionKind
from predictmarket.models import AuditLogEntry, OutboxEvent
from tests.markets.helpers import (
    assert_ledger_sound,
    balance_of,
    escrow_of,
    house_of,
    make_guild,
    make_market,
    make_member,
    pools_of,
)


def test_it_funds_the_market_from_the_house_with_equal_pools(creator: Member) -> None:
    guild = creator.guild
    house_before = house_of(guild.pk)
    creator_before = balance_of(creator)

    market = make_market(
        creator, question="  Which map next?  ", options=[" Dust ", "Inferno", "Nuke"]
    )

    liquidity = guild.default_liquidity
    assert market.status == MarketStatus.OPEN
    assert market.question == "Which map next?"
    assert list(market.outcomes.values_list("label", flat=True)) == ["Dust", "Inferno", "Nuke"]
    assert market.liquidity == liquidity
    assert house_of(guild.pk) == house_before - liquidity
    assert escrow_of(market) == liquidity
    assert balance_of(creator) == creator_before  # the house pays, not the creator
    assert pools_of(market) == [Decimal(liquidity)] * 3

    subsidy = LedgerTransaction.objects.get(idempotency_key=f"market:{market.pk}:subsidy")
    assert subsidy.kind == TransactionKind.SUBSIDY
    [opening] = market_price_history(market)  # no trade yet: the opening prices
    assert [str(p) for p in opening.probabilities] == ["0.333333"] * 3
    audit = AuditLogEntry.objects.get(action="market.create", target_id=str(market.pk))
    assert audit.actor == f"discord:{creator.discord_id}"
    assert audit.data["options"] == ["Dust", "Inferno", "Nuke"]
    event = OutboxEvent.objects.get(kind="market.created", aggregate_id=str(market.pk))
    assert event.payload["options"] == ["Dust", "Inferno", "Nuke"]
    assert event.guild_id == guild.pk
    assert_ledger_sound()


@pytest.mark.django_db
def test_it_uses_the_guilds_liquidity_setting() -> None:
    guild: Guild = make_guild(default_liquidity=250)
    market = make_market(make_member(guild))
    assert escrow_of(market) == 250
    assert pools_of(market) == [Decimal(250), Decimal(250)]


def test_it_creates_one_market_for_a_retried_request(creator: Member) -> None:
    first = make_market(creator, idempotency_key="interaction-42")
    house_after_first = house_of(creator.guild_id)

    again = make_market(creator, idempotency_key="interaction-42")

    assert again.pk == first.pk
    assert house_of(creator.guild_id) == house_after_first
    assert OutboxEvent.objects.filter(kind="market.created").count() == 1

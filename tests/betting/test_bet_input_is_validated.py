"""A bet with a bad option or amount is refused, and no points, shares or pools move."""

from __future__ import annotations

import pytest

from markets.models import Market
from points.models import Guild, Member
from predictmarket.errors import InsufficientPoints, ValidationFailed
from tests.betting.helpers import bet, betting_state
from tests.markets.helpers import balance_of, make_guild, make_market, make_member, refused


@pytest.mark.parametrize(
    "outcome_index",
    [
        pytest.param(2, id="past-the-last-option"),
        pytest.param(-1, id="negative"),
        pytest.param("0", id="a-string"),
        pytest.param(None, id="none"),
    ],
)
def test_it_refuses_a_bet_on_an_unknown_option(
    market: Market, bettor: Member, outcome_index: object
) -> None:
    before = betting_state()
    with refused(ValidationFailed) as info:
        bet(bettor, market, outcome_index, 100)
    assert info.value.details.get("field") == "outcome"
    assert betting_state() == before


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param(0, id="zero"),
        pytest.param(-50, id="negative"),
        pytest.param("-50", id="negative-text"),
        pytest.param(12.5, id="a-fraction"),
        pytest.param("ten", id="words"),
        pytest.param(True, id="a-boolean"),
        pytest.param(None, id="none"),
    ],
)
def test_it_refuses_an_amount_that_is_not_a_positive_whole_number(
    market: Market, bettor: Member, amount: object
) -> None:
    before = betting_state()
    with refused(ValidationFailed) as info:
        bet(bettor, market, 0, amount)
    assert info.value.details.get("field") == "amount"
    assert betting_state() == before


def test_it_refuses_a_bet_over_the_members_balance(market: Market, bettor: Member) -> None:
    balance = balance_of(bettor)
    before = betting_state()

    with refused(InsufficientPoints):
        bet(bettor, market, 0, balance + 1)

    assert betting_state() == before
    bet(bettor, market, 0, balance)  # the whole balance is fine
    assert balance_of(bettor) == 0


@pytest.fixture
def strict_guild(db: None) -> Guild:
    return make_guild(min_bet=10, max_bet=500)


@pytest.mark.parametrize(
    "amount", [pytest.param(9, id="below-min-bet"), pytest.param(501, id="above-max-bet")]
)
def test_it_refuses_a_bet_outside_the_guilds_limits(strict_guild: Guild, amount: int) -> None:
    member = make_member(strict_guild)
    market = make_market(member)
    before = betting_state()

    with refused(ValidationFailed) as info:
        bet(member, market, 0, amount)

    assert info.value.details.get("field") == "amount"
    assert betting_state() == before


def test_it_accepts_bets_at_the_guilds_limits(strict_guild: Guild) -> None:
    member = make_member(strict_guild)
    market = make_market(member)
    start = balance_of(member)
    bet(member, market, 0, 10)
    bet(member, market, 1, 500)
    assert balance_of(member) == start - 510

"""The same request arriving twice at once trades once, and the second gets the first's result.

Two clicks on one Confirm carry one idempotency key. Both may pass the early
"key already used?" read before either commits; the second then waits for the
market lock while the first trades. Before, the second went on to check the
price (now moved by the first) or the shares (now sold by the first) and was
refused with "the price moved" or "you do not hold that many shares" — and the
bot, shown a price-moved refusal, offers a fresh quote, which a member could
confirm for a second trade. A refusal under the lock now first looks for its
twin and replays it. PostgreSQL with real transactions and a second connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from betting import services
from betting.models import Trade
from betting.services import bet_quote, sell_quote
from points.models import Member
from tests.betting.helpers import bet, betting_state, run_concurrently, sell
from tests.markets.helpers import assert_ledger_sound, make_guild, make_market, make_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _twin_commits_before_the_lock(monkeypatch: pytest.MonkeyPatch, twin: Callable[[], Any]):
    """The first lock read waits while ``twin`` (on another connection) trades and commits."""
    lock_market = services.lock_market_with_outcomes
    outcomes: list[Any] = []

    def lock_after_the_twin(market_id: int, locker: Member) -> Any:
        if not outcomes:
            outcomes.append(None)  # the twin's own lock read goes straight through
            [outcome] = run_concurrently([twin], workers=1)
            outcomes[0] = outcome
        return lock_market(market_id, locker)

    monkeypatch.setattr(services, "lock_market_with_outcomes", lock_after_the_twin)
    return outcomes


def test_a_bet_whose_twin_moved_the_price_replays_the_twin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"))
    member = make_member(guild, "clicker")
    quoted = bet_quote(market_id=market.pk, outcome_index=0, amount=200).shares

    def click() -> Any:
        return bet(member, market, 0, 200, idempotency_key="confirm-1", min_shares=quoted)

    twins = _twin_commits_before_the_lock(monkeypatch, click)
    second = click()

    [first] = twins
    assert first.error is None, first.error
    assert second.replayed and second.trade.pk == first.value.trade.pk
    assert Trade.objects.filter(member=member).count() == 1
    assert_ledger_sound()


def test_a_sale_whose_twin_sold_the_shares_replays_the_twin(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"))
    member = make_member(guild, "seller")
    held = bet(member, market, 0, 300).shares
    floor = sell_quote(member=member, market_id=market.pk, outcome_index=0, shares=held)

    def click() -> Any:
        return sell(member, market, 0, held, idempotency_key="sell-1", min_points=floor.points_out)

    twins = _twin_commits_before_the_lock(monkeypatch, click)
    second = click()

    [first] = twins
    assert first.error is None, first.error
    assert second.replayed and second.trade.pk == first.value.trade.pk
    assert Trade.objects.filter(member=member, side="sell").count() == 1
    assert_ledger_sound()


def test_a_refusal_without_a_twin_is_still_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"))
    member = make_member(guild, "late")
    rival = make_member(guild, "rival")
    quoted = bet_quote(market_id=market.pk, outcome_index=0, amount=200).shares
    _twin_commits_before_the_lock(monkeypatch, lambda: bet(rival, market, 0, 300))
    before = betting_state()

    with pytest.raises(services.SlippageExceeded):
        bet(member, market, 0, 200, idempotency_key="confirm-2", min_shares=quoted)

    assert Trade.objects.filter(member=member).count() == 0
    assert betting_state()["trades"] == before["trades"] + 1  # only the rival's

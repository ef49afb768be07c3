"""A freeze and a trade by the same member serialise: no trade commits after the freeze.

Before, ``bet_place``/``shares_sell`` read ``is_frozen`` once, before their
transaction and without a lock, and ``member_set_frozen`` locked only the
member row, which no trade takes: a moderator's freeze could commit while a
trade was under way, and the trade committed after it anyway. Now the trade's
lock read also locks the member's ledger account (after the market), the
freeze takes the same lock, and the trade's write statement refuses a frozen
member. PostgreSQL with real transactions and a second connection.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from betting import services
from betting.models import Trade
from points.models import Member
from points.services import member_set_frozen
from predictmarket.errors import AccountFrozen
from tests.betting.helpers import bet, betting_state, run_concurrently, sell
from tests.concurrency import Background, start_until_blocked
from tests.markets.helpers import assert_ledger_sound, make_guild, make_market, make_member

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

MODERATOR = "discord:555000000000000001"


def _freeze(member: Member) -> Callable[[], bool]:
    """Freeze ``member``; once committed, say whether a trade of theirs is visible yet."""

    def freeze() -> bool:
        member_set_frozen(member=member, frozen=True, reason="suspected alt", actor=MODERATOR)
        return Trade.objects.filter(member=member).exists()

    return freeze


def _money(state: dict[str, Any]) -> dict[str, Any]:
    # The freeze's own audit entry is the one row it adds.
    return {k: v for k, v in state.items() if k != "audit"}


def test_a_freeze_made_while_a_bet_is_between_its_statements_waits_for_the_bet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"))
    member = make_member(guild, "bettor")
    freezes: list[Background] = []
    write_trade = services.write_trade

    def write_after_a_moderator_froze(write: Any, **options: Any) -> Any:
        # The market and the member's account are locked now (the lock read ran).
        freezes.append(start_until_blocked(_freeze(member)))
        return write_trade(write, **options)

    monkeypatch.setattr(services, "write_trade", write_after_a_moderator_froze)
    result = bet(member, market, 0, 40)

    [freeze] = freezes
    outcome = freeze.result()
    assert outcome.error is None, outcome.error
    assert result.points == 40
    assert outcome.value, "the bet committed after the freeze had committed"
    monkeypatch.undo()
    with pytest.raises(AccountFrozen):
        bet(member, market, 0, 10)
    assert Trade.objects.filter(member=member).count() == 1
    assert_ledger_sound()


@pytest.mark.parametrize("side", ["bet", "sell"])
def test_a_freeze_committed_after_the_precheck_refuses_the_trade_and_changes_nothing(
    monkeypatch: pytest.MonkeyPatch, side: str
) -> None:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"))
    member = make_member(guild, "trader")
    bet(member, market, 1, 100)
    before = betting_state()
    lock_market = services.lock_market_with_outcomes

    def lock_after_a_moderator_froze(market_id: int, locker: Member) -> Any:
        # The precheck saw the member unfrozen; the freeze commits before the lock read.
        [frozen] = run_concurrently([_freeze(member)], workers=1)
        assert frozen.error is None, frozen.error
        return lock_market(market_id, locker)

    monkeypatch.setattr(services, "lock_market_with_outcomes", lock_after_a_moderator_froze)
    with pytest.raises(AccountFrozen):
        if side == "bet":
            bet(member, market, 0, 30)
        else:
            sell(member, market, 1, "all")

    assert _money(betting_state()) == _money(before)
    assert Member.objects.get(pk=member.pk).is_frozen
    assert_ledger_sound()


def test_trades_racing_a_freeze_either_land_before_it_or_move_nothing() -> None:
    guild = make_guild()
    market = make_market(make_member(guild, "creator"))
    member = make_member(guild, "busy")
    seen_at_freeze: list[int] = []

    def freeze() -> None:
        member_set_frozen(member=member, frozen=True, reason="storm", actor=MODERATOR)
        seen_at_freeze.append(Trade.objects.filter(member=member).count())

    trades = [lambda n=n: bet(member, market, n % 2, 5) for n in range(6)]
    outcomes = run_concurrently([*trades[:3], freeze, *trades[3:]], workers=len(trades) + 1)

    assert sum(o.error is None and o.value is None for o in outcomes) == 1  # the freeze
    landed = [o for o in outcomes if o.error is None and o.value is not None]
    refused = [o for o in outcomes if isinstance(o.error, AccountFrozen)]
    assert len(landed) + len(refused) == len(trades), [o.error for o in outcomes]
    assert Trade.objects.filter(member=member).count() == len(landed)
    assert seen_at_freeze == [len(landed)], "a trade committed after the freeze"
    assert_ledger_sound()

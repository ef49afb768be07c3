"""Whatever members do on one market, the house loses at most the market's liquidity.

Conservation (the ledger sums to zero) says nothing about *who* holds the
points. This machine plays 2-4 members of one guild, some made rich by
moderator grants, on one market with a random number of answers and a random
fee: they buy, sell (any amount, all included) and tip each other, a
moderator may close the market, and then it ends one way — resolved to any
answer, cancelled, or refunded automatically. After the ending the oracle is
DESIGN.md's house-loss bound: the house's net on the market is at least
-liquidity and the members together gained at most the liquidity, the escrow
is empty, nobody is negative and the ledger sums to zero.

The fixed two-account scenarios of the cancel defect are in
``test_cancelling_unwinds_every_trade.py``; this machine finds that defect on
its own (see ``EXAMPLES``).
"""

from __future__ import annotations

import contextlib
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from betting.models import Position
from betting.services import InsufficientShares, bet_place, shares_sell
from betting.settlement import settle_resolved_market
from betting.unwind import refund_market
from markets.models import Market, MarketStatus
from markets.services import market_close, market_create
from points.models import Account, AccountKind, LedgerEntry, Member
from points.reconciliation import ledger_reconcile
from points.services import points_grant, points_transfer
from predictmarket.errors import InsufficientPoints, InvalidState, ValidationFailed
from tests.betting.helpers import new_key
from tests.markets.helpers import MODERATORS, decide, guild_total, make_guild, make_member

# The earlier refund rule ("max(0, spent - received)", the house covering the
# rest) fails the bound at the 3rd example of this derandomized run (the
# generation depends on max_examples, so that was measured with this value);
# with random seeds the first failure came between the 12th and the 420th.
EXAMPLES = 300

# Shares of a balance or a holding: small, half, nearly all, all. Big moves are
# where members can push a thin market around.
portion = st.sampled_from([Decimal("0.01"), Decimal("0.5"), Decimal("0.99"), 1])
sell_portion = st.sampled_from([Decimal("0.1"), Decimal("0.99"), 1])


class HouseLossMachine(RuleBasedStateMachine):
    """One market, a few members, one ending; the oracle is the house-loss bound."""

    @initialize(
        members=st.integers(min_value=2, max_value=4),
        grants=st.lists(st.sampled_from([0, 10_000, 1_000_000, 1_000_000]), min_size=4, max_size=4),
        liquidity=st.sampled_from([1, 10, 100, 1_000]),
        fee_bps=st.sampled_from([0, 0, 100, 500]),
        answers=st.integers(min_value=2, max_value=5),
        patience=st.integers(min_value=4, max_value=20),
    )
    def start(
        self,
        members: int,
        grants: list[int],
        liquidity: int,
        fee_bps: int,
        answers: int,
        patience: int,
    ) -> None:
        guild = make_guild(default_liquidity=liquidity, fee_bps=fee_bps, min_resolution_votes=2)
        self.members: list[Member] = [make_member(guild, f"m{n}") for n in range(members)]
        for member, grant in zip(self.members, grants, strict=False):
            if grant:
                points_grant(member=member, amount=grant, reason="rich", actor=MODERATORS[0])
        self.market = market_create(
            creator=self.members[0],
            question="Which answer?",
            options=[f"answer {n}" for n in range(answers)],
            duration=timedelta(days=1),
            actor=MODERATORS[0],
            bypass_rate_limit=True,
        )
        self.answers = answers
        self.liquidity = liquidity
        self.ended = False
        self.open = True
        self.trades = 0  # buys and sells placed
        self.patience = patience  # trades before a moderator may close or end it

    # -- helpers ------------------------------------------------------------------
    def _member(self, n: int) -> Member:
        return self.members[n % len(self.members)]

    def _balance(self, member: Member) -> int:
        return Account.objects.get(member=member).balance

    def _net_on_market(self, account_ids: list[int]) -> int:
        """What these accounts gained (+) or lost (-) in transactions with the escrow."""
        with_escrow = LedgerEntry.objects.filter(account_id=self.market.escrow_account_id).values(
            "transaction_id"
        )
        return sum(
            LedgerEntry.objects.filter(
                account_id__in=account_ids, transaction_id__in=with_escrow
            ).values_list("amount", flat=True)
        )

    # -- members ------------------------------------------------------------------
    @precondition(lambda self: self.open)
    @rule(who=st.integers(0, 3), answer=st.integers(0, 4), share=portion)
    def buy(self, who: int, answer: int, share: Decimal) -> None:
        member = self._member(who)
        amount = max(1, int(self._balance(member) * Decimal(share)))
        # Broke, or past the largest bet: refused, and nothing moved.
        with contextlib.suppress(InsufficientPoints, ValidationFailed):
            bet_place(
                member=member,
                market_id=self.market.pk,
                outcome_index=answer % self.answers,
                amount=amount,
                idempotency_key=new_key(),
            )
            self.trades += 1

    @precondition(lambda self: self.open)
    @rule(holding=st.integers(0, 50), share=sell_portion)
    def sell(self, holding: int, share: Decimal) -> None:
        """Sell part or all of one of the holdings members have."""
        holdings = list(
            Position.objects.filter(market=self.market, shares__gt=0)
            .order_by("pk")
            .values_list("member_id", "outcome__index", "shares")
        )
        if not holdings:
            return
        member_id, answer, held = holdings[holding % len(holdings)]
        amount = (
            "all"
            if share == 1
            else str((held * Decimal(share)).quantize(Decimal("0.000001"), ROUND_FLOOR))
        )
        # Too few shares to fetch a whole point: refused, and nothing moved.
        with contextlib.suppress(InsufficientShares, ValidationFailed):
            shares_sell(
                member=Member.objects.get(pk=member_id),
                market_id=self.market.pk,
                outcome_index=answer,
                shares=amount,
                idempotency_key=new_key(),
            )
            self.trades += 1

    @precondition(lambda self: self.trades >= 2)
    @rule(sender=st.integers(0, 3), recipient=st.integers(0, 3), share=portion)
    def tip(self, sender: int, recipient: int, share: Decimal) -> None:
        giver, taker = self._member(sender), self._member(recipient)
        balance = self._balance(giver)
        if giver.pk == taker.pk or balance < 1:
            return
        points_transfer(
            sender=giver,
            recipient=taker,
            amount=max(1, int(balance * Decimal(share))),
            idempotency_key=new_key(),
        )

    # -- moderators and the sweeps ------------------------------------------------
    @precondition(lambda self: self.open and self.trades >= self.patience)
    @rule()
    def close(self) -> None:
        market_close(market_id=self.market.pk, actor=MODERATORS[0])
        self.open = False

    @precondition(lambda self: not self.ended and self.trades >= self.patience)
    @rule(how=st.sampled_from(["resolve", "cancel", "abandon"]), answer=st.integers(0, 4))
    def end(self, how: str, answer: int) -> None:
        """The one ending: resolved to any answer, cancelled, or refunded by the sweep."""
        if how == "resolve":
            decide(self.market, outcome_index=answer % self.answers)
            assert settle_resolved_market(market_id=self.market.pk).performed
        elif how == "cancel":
            decide(self.market, cancel=True)
            assert refund_market(market_id=self.market.pk).performed
        else:
            # Nobody resolves it: the sweep refunds it once its own delay has passed.
            market = Market.objects.get(pk=self.market.pk)
            later = market.closes_at + timedelta(hours=market.auto_refund_hours, seconds=1)
            result = refund_market(market_id=market.pk, automatic=True, now=later)
            assert result.performed and result.kind == "auto_refunded"
        self._end()

    def _end(self) -> None:
        self.ended, self.open = True, False
        with pytest.raises(InvalidState):
            bet_place(
                member=self.members[0],
                market_id=self.market.pk,
                outcome_index=0,
                amount=1,
                idempotency_key=new_key(),
            )

    # -- the oracle ---------------------------------------------------------------
    @invariant()
    def points_are_conserved(self) -> None:
        if hasattr(self, "market"):
            assert guild_total(self.market.guild_id) == 0

    @invariant()
    def the_house_loses_at_most_the_liquidity(self) -> None:
        if getattr(self, "ended", False):
            self._check_the_ending()

    def _check_the_ending(self) -> None:
        market = Market.objects.get(pk=self.market.pk)
        assert market.status in {
            MarketStatus.RESOLVED,
            MarketStatus.CANCELLED,
            MarketStatus.REFUNDED,
        }
        assert market.settled_at is not None
        escrow = Account.objects.get(pk=market.escrow_account_id)
        assert escrow.balance == 0
        guild_accounts = Account.objects.filter(guild_id=market.guild_id)
        assert not guild_accounts.exclude(kind=AccountKind.HOUSE).filter(balance__lt=0).exists()
        house = guild_accounts.get(kind=AccountKind.HOUSE).pk
        members = list(guild_accounts.filter(kind=AccountKind.MEMBER).values_list("pk", flat=True))
        house_net = self._net_on_market([house])
        members_net = self._net_on_market(members)
        assert house_net >= -self.liquidity, (house_net, self.liquidity)
        assert members_net <= self.liquidity, (members_net, self.liquidity)
        assert house_net + members_net == 0  # the escrow is empty: nobody else is involved

    def teardown(self) -> None:
        if hasattr(self, "market") and not self.ended:
            # Every example ends: a run the rules left open is cancelled, the
            # ending that once let two accounts take points from the house.
            decide(self.market, cancel=True)
            assert refund_market(market_id=self.market.pk).performed
            self._check_the_ending()
        report = ledger_reconcile()
        assert report.ok, report


@pytest.mark.postgres
@pytest.mark.django_db
@override_settings(RATE_LIMITS_ENABLED=False)
def test_the_house_loses_at_most_the_liquidity_whatever_members_do() -> None:
    run_state_machine_as_test(
        HouseLossMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=30,
            deadline=None,
            database=None,  # no example database written into the working tree
            derandomize=True,  # the same sequences every run: a failure is reproducible
            # Shrinking on a database is slow; add Phase.shrink locally for a minimal case.
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

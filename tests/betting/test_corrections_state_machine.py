"""Trade, end, correct (any number of times), cancel, refund: the money always adds up.

The machine plays 2-4 members of one guild on one market: they buy, sell and
tip each other (spending a payout elsewhere), a moderator may close it, then
it ends one way (resolved to any answer, cancelled, or refunded automatically)
and may be corrected again and again to any answer or to cancel while the
window is open; time may also run past the window, after which a correction is
refused and nothing moves. After every step:

- the guild's ledger sums to zero and no member or escrow is negative;
- once ended, the escrow is 0;
- each member's money on the market is exactly what the final result alone
  would have given them (their trades' net, plus 1 point per winning share, or
  0 for a cancel), apart from a gain they had already spent elsewhere: a member
  may keep more than that only if their balance was emptied when the result
  last changed, and the others may then be short (refunds or payouts cut pro
  rata) by at most what those members kept, plus rounding dust;
- the house-loss bound: the house's net on the market is at least
  -liquidity and the members together gained at most the liquidity.

The model knows each member's trades from the services' answers (points and
shares), never from the positions the code under test keeps.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from datetime import timedelta
from decimal import ROUND_FLOOR, Decimal

import pytest
from django.test import override_settings
from django.utils import timezone
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

from betting.corrections import correction_apply
from betting.services import InsufficientShares
from betting.settlement import settle_resolved_market
from betting.unwind import refund_market
from markets.models import Market, MarketCorrection, MarketStatus
from markets.services import market_close, market_create, resolution_vote
from points.models import Account, AccountKind, LedgerEntry, Member
from points.reconciliation import ledger_reconcile
from points.services import points_grant, points_transfer
from predictmarket.errors import Conflict, InsufficientPoints, InvalidState, ValidationFailed
from tests.betting.helpers import bet, new_key, sell
from tests.markets.helpers import MODERATORS, decide, guild_total, make_guild, make_member

# Measured: with _record_lines left out (a second correction then reads stale nets)
# this derandomized run fails at its 19th example.
EXAMPLES = 60

portion = st.sampled_from([Decimal("0.01"), Decimal("0.5"), Decimal("0.99"), 1])
sell_portion = st.sampled_from([Decimal("0.1"), Decimal("0.99"), 1])


class CorrectionMachine(RuleBasedStateMachine):
    @initialize(
        members=st.integers(min_value=2, max_value=4),
        grants=st.lists(st.sampled_from([0, 1_000, 100_000]), min_size=4, max_size=4),
        liquidity=st.sampled_from([1, 10, 100, 1_000]),
        fee_bps=st.sampled_from([0, 100, 500]),
        answers=st.integers(min_value=2, max_value=4),
        votes=st.integers(min_value=1, max_value=2),
        patience=st.integers(min_value=3, max_value=12),
    )
    def start(
        self,
        members: int,
        grants: list[int],
        liquidity: int,
        fee_bps: int,
        answers: int,
        votes: int,
        patience: int,
    ) -> None:
        guild = make_guild(default_liquidity=liquidity, fee_bps=fee_bps, min_resolution_votes=votes)
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
        self.votes = votes
        self.ended = False
        self.open = True
        self.window_passed = False
        self.result: int | None = None  # the winning answer, None for cancel/refund
        self.corrections = 0
        self.trades = 0
        self.patience = patience  # trades before a moderator may close or end it
        # The model: what each member paid and got from trades, and the shares they hold.
        self.traded: dict[int, int] = defaultdict(int)
        self.shares: dict[tuple[int, int], Decimal] = defaultdict(Decimal)

    # -- helpers ------------------------------------------------------------------
    def _member(self, n: int) -> Member:
        return self.members[n % len(self.members)]

    def _balance(self, member_pk: int) -> int:
        return Account.objects.get(member_id=member_pk).balance

    def _on_market(self, account_ids: list[int]) -> int:
        """What these accounts gained (+) or lost (-) in transactions with the escrow."""
        with_escrow = LedgerEntry.objects.filter(account_id=self.market.escrow_account_id).values(
            "transaction_id"
        )
        return sum(
            LedgerEntry.objects.filter(
                account_id__in=account_ids, transaction_id__in=with_escrow
            ).values_list("amount", flat=True)
        )

    def _target(self, member: Member) -> int:
        """The member's net on the market had the current result been the only one."""
        if self.result is None:
            return 0
        held = self.shares[(member.pk, self.result)]
        return self.traded[member.pk] + int(held.to_integral_value(rounding=ROUND_FLOOR))

    def _differences(self) -> dict[int, int]:
        accounts = dict(
            Account.objects.filter(member__in=self.members).values_list("member_id", "pk")
        )
        return {m.pk: self._on_market([accounts[m.pk]]) - self._target(m) for m in self.members}

    def _after_the_result_changed(self) -> None:
        """A member keeps more than the result gives only if their balance was emptied."""
        for member_pk, difference in self._differences().items():
            if difference > 0:
                assert self._balance(member_pk) == 0, (member_pk, difference)

    # -- members ------------------------------------------------------------------
    @precondition(lambda self: self.open)
    @rule(who=st.integers(0, 3), answer=st.integers(0, 3), share=portion)
    def buy(self, who: int, answer: int, share: Decimal) -> None:
        member = self._member(who)
        amount = max(1, int(self._balance(member.pk) * Decimal(share)))
        with contextlib.suppress(InsufficientPoints, ValidationFailed):
            result = bet(member, self.market, answer % self.answers, amount)
            self.traded[member.pk] -= result.points
            self.trades += 1
            self.shares[(member.pk, answer % self.answers)] += result.shares

    @precondition(lambda self: self.open)
    @rule(holding=st.integers(0, 50), share=sell_portion)
    def sell(self, holding: int, share: Decimal) -> None:
        holdings = sorted((k, v) for k, v in self.shares.items() if v > 0)
        if not holdings:
            return
        (member_pk, answer), held = holdings[holding % len(holdings)]
        amount = (
            "all"
            if share == 1
            else str((held * Decimal(share)).quantize(Decimal("0.000001"), ROUND_FLOOR))
        )
        with contextlib.suppress(InsufficientShares, ValidationFailed):
            result = sell(Member.objects.get(pk=member_pk), self.market, answer, amount)
            self.traded[member_pk] += result.points
            self.trades += 1
            self.shares[(member_pk, answer)] -= result.shares

    @rule(sender=st.integers(0, 3), recipient=st.integers(0, 3), share=portion)
    def tip(self, sender: int, recipient: int, share: Decimal) -> None:
        """Points passed on: a payout spent elsewhere, before a correction asks it back."""
        giver, taker = self._member(sender), self._member(recipient)
        balance = self._balance(giver.pk)
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
    @rule(how=st.sampled_from(["resolve", "cancel", "abandon"]), answer=st.integers(0, 3))
    def end(self, how: str, answer: int) -> None:
        if how == "resolve":
            decide(self.market, outcome_index=answer % self.answers)
            assert settle_resolved_market(market_id=self.market.pk).performed
            self.result = answer % self.answers
        elif how == "cancel":
            decide(self.market, cancel=True)
            assert refund_market(market_id=self.market.pk).performed
        else:
            market = Market.objects.get(pk=self.market.pk)
            later = market.closes_at + timedelta(hours=market.auto_refund_hours, seconds=1)
            assert refund_market(market_id=market.pk, automatic=True, now=later).performed
            # The sweep's clock was later than now: bring the decision to now, so the
            # correction window is measured from it as it would be in production.
            Market.objects.filter(pk=market.pk).update(resolved_at=timezone.now())
        self.ended, self.open = True, False
        self._after_the_result_changed()

    @precondition(lambda self: self.ended)
    @rule(answer=st.integers(0, 4))
    def correct(self, answer: int) -> None:
        """Moderators correct the result to an answer (or cancel, for 4)."""
        to = None if answer == 4 else answer % self.answers
        market = Market.objects.get(pk=self.market.pk)
        same = (to is None and market.status != MarketStatus.RESOLVED) or (
            to is not None and market.winning_outcome_id is not None and to == self.result
        )
        votes = [
            lambda voter=voter: resolution_vote(
                market_id=market.pk,
                voter=voter,
                outcome_index=to,
                cancel=to is None,
                correct=True,
            )
            for voter in MODERATORS[: self.votes]
        ]
        if self.window_passed or same:
            before = self._money()
            with pytest.raises(InvalidState if self.window_passed else Conflict):
                votes[0]()
            assert self._money() == before
            return
        for vote in votes:
            decided = vote().decided
        assert decided
        correction = MarketCorrection.objects.get(market=market, number=self.corrections + 1)
        assert correction_apply(correction_id=correction.pk).performed
        assert not correction_apply(correction_id=correction.pk).performed  # once
        self.corrections += 1
        self.result = to
        self._after_the_result_changed()

    @precondition(lambda self: self.ended and self.corrections >= 2 and not self.window_passed)
    @rule()
    def window_passes(self) -> None:
        Market.objects.filter(pk=self.market.pk).update(
            resolved_at=timezone.now() - timedelta(hours=self.market.correction_window_hours + 1)
        )
        self.window_passed = True

    def _money(self) -> dict[int, int]:
        return dict(
            Account.objects.filter(guild_id=self.market.guild_id).values_list("pk", "balance")
        )

    # -- the oracle ---------------------------------------------------------------
    @invariant()
    def points_are_conserved(self) -> None:
        if hasattr(self, "market"):
            assert guild_total(self.market.guild_id) == 0
            assert not (
                Account.objects.filter(guild_id=self.market.guild_id, balance__lt=0)
                .exclude(kind=AccountKind.HOUSE)
                .exists()
            )

    @invariant()
    def the_result_alone_decides_each_members_money(self) -> None:
        if not getattr(self, "ended", False):
            return
        market = Market.objects.get(pk=self.market.pk)
        assert market.settled_at is not None
        assert Account.objects.get(pk=market.escrow_account_id).balance == 0
        differences = self._differences()
        kept = sum(d for d in differences.values() if d > 0)
        short = sum(-d for d in differences.values() if d < 0)
        if kept == 0:
            assert short == 0, differences  # nobody spent a gain: everyone exact
        else:
            assert short <= kept + len(self.members), differences

    @invariant()
    def the_house_loses_at_most_the_liquidity(self) -> None:
        if not getattr(self, "ended", False):
            return
        guild_accounts = Account.objects.filter(guild_id=self.market.guild_id)
        house = guild_accounts.get(kind=AccountKind.HOUSE).pk
        members = list(guild_accounts.filter(kind=AccountKind.MEMBER).values_list("pk", flat=True))
        house_net = self._on_market([house])
        members_net = self._on_market(members)
        assert house_net >= -self.liquidity, (house_net, self.liquidity)
        assert members_net <= self.liquidity, (members_net, self.liquidity)
        assert house_net + members_net == 0

    def teardown(self) -> None:
        report = ledger_reconcile()
        assert report.ok, report


@pytest.mark.postgres
@pytest.mark.django_db
@override_settings(RATE_LIMITS_ENABLED=False)
def test_corrections_keep_every_members_money_as_the_final_result_alone_gives_it() -> None:
    run_state_machine_as_test(
        CorrectionMachine,
        settings=settings(
            max_examples=EXAMPLES,
            stateful_step_count=40,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

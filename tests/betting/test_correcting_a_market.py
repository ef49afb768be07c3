"""Moderators correct a decided market: the earlier ending is reversed, the new one paid.

The oracle for "the new outcome alone" is a twin market with the same trades
decided that way in the first place: each member's money on the corrected
market must end exactly as on the twin.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from pytest_django import DjangoCaptureOnCommitCallbacks, Settings

from betting.corrections import correction_apply
from betting.settlement import settle_resolved_market
from betting.tasks import settlement_sweep
from betting.unwind import refund_market
from markets.corrections import history_sentence
from markets.models import Market, MarketCorrection, MarketStatus
from markets.services import market_close, resolution_vote
from markets.snapshots import is_snapshot_refresh
from points.models import Guild, LedgerEntry, Member
from points.services import points_grant, points_transfer
from predictmarket.errors import Conflict, InvalidState
from predictmarket.models import AuditLogEntry, OutboxEvent
from tests.betting.helpers import bet, sell
from tests.markets.helpers import (
    MODERATORS,
    assert_ledger_sound,
    balance_of,
    decide,
    escrow_of,
    make_guild,
    make_market,
    make_member,
    money_state,
    refused,
)


def correct(market: Market, *, outcome_index: int | None = None, voters: int = 2) -> Market:
    """Vote a correction with ``voters`` moderators; apply it as the on-commit task would."""
    result = None
    for voter in MODERATORS[:voters]:
        result = resolution_vote(
            market_id=market.pk,
            voter=voter,
            outcome_index=outcome_index,
            cancel=outcome_index is None,
            correct=True,
        )
    assert result is not None and result.decided
    correction = MarketCorrection.objects.filter(market=market).order_by("-number").first()
    assert correction is not None
    correction_apply(correction_id=correction.pk)
    market.refresh_from_db()
    return market


def end(market: Market, *, outcome_index: int | None) -> None:
    if outcome_index is None:
        decide(market, cancel=True)
        assert refund_market(market_id=market.pk).performed
    else:
        decide(market, outcome_index=outcome_index)
        assert settle_resolved_market(market_id=market.pk).performed


def on_market(member: Member, market: Market) -> int:
    """The member's net on the market: what moved between their account and its escrow."""
    with_escrow = LedgerEntry.objects.filter(account_id=market.escrow_account_id).values(
        "transaction_id"
    )
    return sum(
        LedgerEntry.objects.filter(
            account__member=member, transaction_id__in=with_escrow
        ).values_list("amount", flat=True)
    )


def twin_markets(guild: Guild) -> tuple[list[Member], Market, Market]:
    """Two markets with the same trades by the same members (rich enough to repay)."""
    members = [make_member(guild, name) for name in ("alice", "bob", "carol")]
    for member in members:
        points_grant(member=member, amount=5_000, reason="test", actor=MODERATORS[0])
    markets = [make_market(members[0]), make_market(members[0])]
    for market in markets:
        bet(members[0], market, 0, 300)
        bet(members[1], market, 1, 500)
        bet(members[2], market, 0, 200)
        sell(members[2], market, 0, "50")
    return members, markets[0], markets[1]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first", "then"), [(0, 1), (1, 0), (0, None), (None, 0), (None, 1)], ids=str
)
def test_a_corrected_market_ends_as_if_decided_so_in_the_first_place(
    first: int | None, then: int | None
) -> None:
    guild = make_guild(default_liquidity=100)
    members, market, twin = twin_markets(guild)
    end(market, outcome_index=first)
    end(twin, outcome_index=then)

    market = correct(market, outcome_index=then)

    assert market.status == (MarketStatus.RESOLVED if then is not None else MarketStatus.CANCELLED)
    for member in members:
        assert on_market(member, market) == on_market(member, twin), member.display_name
    assert escrow_of(market) == 0
    assert_ledger_sound()


@pytest.mark.django_db
def test_it_can_be_corrected_again_and_back() -> None:
    guild = make_guild(default_liquidity=100)
    members, market, twin = twin_markets(guild)
    end(market, outcome_index=0)
    end(twin, outcome_index=0)
    before = [balance_of(m) for m in members]

    correct(market, outcome_index=1)
    correct(market, outcome_index=None)
    market = correct(market, outcome_index=0)

    assert [balance_of(m) for m in members] == before
    assert history_sentence(market) == (
        "resolved Yes, corrected to resolved No by discord:730000000000000001 and "
        "discord:730000000000000002, corrected to cancelled by discord:730000000000000001 "
        "and discord:730000000000000002, corrected to resolved Yes by "
        "discord:730000000000000001 and discord:730000000000000002"
    )
    assert list(
        AuditLogEntry.objects.filter(action="market.corrected")
        .order_by("pk")
        .values_list("data__to", flat=True)
    ) == ["resolved No", "cancelled", "resolved Yes"]
    assert OutboxEvent.objects.filter(kind="market.correction_settled").count() == 3
    assert_ledger_sound()


@pytest.mark.django_db
def test_a_gain_already_spent_is_taken_back_as_far_as_the_balance_holds() -> None:
    guild = make_guild(default_liquidity=100)
    winner, loser, friend = (make_member(guild, n) for n in ("winner", "loser", "friend"))
    market = make_market(winner)
    bet(winner, market, 0, 400)
    bet(loser, market, 1, 600)
    end(market, outcome_index=0)
    # The winner gives everything away before the mistake is noticed.
    points_transfer(
        sender=winner, recipient=friend, amount=balance_of(winner), idempotency_key="gift"
    )
    assert balance_of(winner) == 0

    result = None
    for voter in MODERATORS[:2]:
        resolution_vote(market_id=market.pk, voter=voter, outcome_index=1, correct=True)
    correction = MarketCorrection.objects.get(market=market)
    result = correction_apply(correction_id=correction.pk)

    assert result.performed
    assert result.not_taken_back[winner.pk] > 0
    assert balance_of(winner) == 0
    assert escrow_of(market) == 0
    # The house absorbs what could not be taken back only up to the liquidity.
    assert on_market(loser, market) <= market.liquidity
    house = LedgerEntry.objects.filter(
        account__kind="house",
        transaction_id__in=LedgerEntry.objects.filter(account_id=market.escrow_account_id).values(
            "transaction_id"
        ),
    )
    assert sum(house.values_list("amount", flat=True)) >= -market.liquidity
    assert_ledger_sound()


@pytest.mark.django_db
def test_a_correction_is_applied_once_however_often_it_is_run() -> None:
    guild = make_guild(default_liquidity=100)
    _, market, _ = twin_markets(guild)
    end(market, outcome_index=0)
    for voter in MODERATORS[:2]:
        resolution_vote(market_id=market.pk, voter=voter, outcome_index=1, correct=True)
    correction = MarketCorrection.objects.get(market=market)
    assert correction_apply(correction_id=correction.pk).performed
    after = money_state()

    assert not correction_apply(correction_id=correction.pk).performed
    assert settlement_sweep() == 0
    assert money_state() == after


@pytest.mark.django_db
def test_the_sweep_applies_a_correction_whose_task_was_lost() -> None:
    guild = make_guild(default_liquidity=100)
    members, market, twin = twin_markets(guild)
    end(market, outcome_index=0)
    end(twin, outcome_index=1)
    for voter in MODERATORS[:2]:  # no on-commit task runs in this test's transaction
        resolution_vote(market_id=market.pk, voter=voter, outcome_index=1, correct=True)

    assert settlement_sweep() == 1

    assert MarketCorrection.objects.get(market=market).applied_at is not None
    for member in members:
        assert on_market(member, market) == on_market(member, twin)


@pytest.mark.django_db
def test_the_deciding_vote_applies_it_on_commit(
    settings: Settings, django_capture_on_commit_callbacks: DjangoCaptureOnCommitCallbacks
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.CELERY_TASK_EAGER_PROPAGATES = True
    guild = make_guild(default_liquidity=100)
    _, market, _ = twin_markets(guild)
    end(market, outcome_index=0)
    resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=1, correct=True)
    market.refresh_from_db()
    assert market.status == MarketStatus.RESOLVED and market.winning_outcome.index == 0

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        vote = resolution_vote(
            market_id=market.pk, voter=MODERATORS[1], outcome_index=1, correct=True
        )

    # One task applies it (the other callback refreshes the market's cached snapshot).
    assert vote.decided
    assert len([c for c in callbacks if not is_snapshot_refresh(c)]) == 1
    assert MarketCorrection.objects.get(market=market).applied_at is not None


@pytest.mark.django_db
def test_it_refuses_a_correction_outside_the_window_and_changes_nothing() -> None:
    guild = make_guild(correction_window_hours=24)
    _, market, _ = twin_markets(guild)
    end(market, outcome_index=0)
    Market.objects.filter(pk=market.pk).update(resolved_at=timezone.now() - timedelta(hours=25))
    before = money_state()

    with refused(InvalidState) as info:
        resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=1, correct=True)

    assert "correction window" in str(info.value)
    assert money_state() == before


@pytest.mark.django_db
def test_a_window_of_zero_turns_corrections_off() -> None:
    guild = make_guild(correction_window_hours=0)
    _, market, _ = twin_markets(guild)
    end(market, outcome_index=0)
    with refused(InvalidState) as info:
        resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=1, correct=True)
    assert "turned off" in str(info.value)


@pytest.mark.django_db
def test_a_market_keeps_the_window_it_was_created_under() -> None:
    guild = make_guild(correction_window_hours=48)
    _, market, _ = twin_markets(guild)
    Guild.objects.filter(pk=guild.pk).update(correction_window_hours=0)
    end(market, outcome_index=0)
    market.refresh_from_db()
    assert market.correction_window_hours == 48
    vote = resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=1, correct=True)
    assert not vote.decided


@pytest.mark.django_db
def test_it_refuses_a_correction_to_the_same_result() -> None:
    guild = make_guild()
    _, market, _ = twin_markets(guild)
    end(market, outcome_index=0)
    before = money_state()
    with refused(Conflict):
        resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=0, correct=True)
    assert money_state() == before


@pytest.mark.django_db
def test_it_refuses_a_correction_before_the_result_is_paid() -> None:
    guild = make_guild()
    _, market, _ = twin_markets(guild)
    decide(market, outcome_index=0)  # decided, settlement not run yet
    with refused(InvalidState) as info:
        resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=1, correct=True)
    assert "still being paid out" in str(info.value)


@pytest.mark.django_db
def test_a_decided_market_refuses_a_plain_vote_and_says_how_to_correct() -> None:
    guild = make_guild()
    _, market, _ = twin_markets(guild)
    end(market, outcome_index=0)
    with refused(InvalidState) as info:
        resolution_vote(market_id=market.pk, voter=MODERATORS[2], outcome_index=1)
    assert "/moderate correct" in str(info.value)


@pytest.mark.django_db
def test_an_undecided_market_cannot_be_corrected() -> None:
    guild = make_guild()
    _, market, _ = twin_markets(guild)
    with refused(InvalidState):
        resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=1, correct=True)


@pytest.mark.django_db
def test_votes_of_the_first_decision_do_not_count_towards_a_correction() -> None:
    guild = make_guild()
    _, market, _ = twin_markets(guild)
    market_close(market_id=market.pk, actor=MODERATORS[0])
    # A moderator voted No, but Yes won; a correction to No needs votes of its own.
    resolution_vote(market_id=market.pk, voter=MODERATORS[2], outcome_index=1)
    end(market, outcome_index=0)

    first = resolution_vote(market_id=market.pk, voter=MODERATORS[2], outcome_index=1, correct=True)

    assert not first.decided and first.votes_for_choice == 1
    with refused(Conflict):
        resolution_vote(market_id=market.pk, voter=MODERATORS[2], outcome_index=1, correct=True)


@pytest.mark.django_db
def test_a_drip_guild_cannot_correct_and_is_told_why() -> None:
    guild = make_guild()
    _, market, _ = twin_markets(guild)
    end(market, outcome_index=0)
    Guild.objects.filter(pk=guild.pk).update(points_backend="drip")
    before = money_state()
    with refused(InvalidState) as info:
        resolution_vote(market_id=market.pk, voter=MODERATORS[0], outcome_index=1, correct=True)
    assert "DRIP" in str(info.value)
    assert money_state() == before

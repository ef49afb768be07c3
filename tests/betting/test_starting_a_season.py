"""``season_start``: archives the ended season once, optionally resets balances, moderators only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from betting.leaderboards import period_start
from betting.models import Season, SeasonStanding
from betting.seasons import reset_key_prefix, season_standings, season_start
from betting.selectors import worth_leaderboard
from betting.settlement import settle_resolved_market
from markets.models import Market
from points.models import Account, AccountKind, Guild, LedgerTransaction, Member
from predictmarket.errors import IdempotencyConflict, InvalidState, PermissionDenied
from predictmarket.models import AuditLogEntry, OutboxEvent
from tests.betting.helpers import bet, new_key
from tests.concurrency import run_concurrently
from tests.markets.helpers import (
    MODERATORS,
    assert_ledger_sound,
    balance_of,
    decide,
    guild_total,
    make_guild,
    make_market,
    make_member,
    money_state,
    refused,
)

MOD = MODERATORS[0]


def start(guild: Guild, *, reset: bool = False, key: str | None = None) -> Season:
    return season_start(
        guild_id=guild.pk,
        actor=MOD,
        is_moderator=True,
        reset=reset,
        idempotency_key=key or new_key(),
    ).season


def won_and_lost(guild: Guild, creator: Member) -> tuple[Member, Member, Market]:
    """A winner and a loser of one settled market."""
    winner, loser = make_member(guild, "winner"), make_member(guild, "loser")
    market = make_market(creator)
    bet(winner, market, 0, 100)
    bet(loser, market, 1, 100)
    decide(market, outcome_index=0)
    settle_resolved_market(market_id=market.pk)
    return winner, loser, market


def test_the_first_season_opens_with_nothing_to_archive(guild: Guild) -> None:
    season = start(guild)

    assert (season.number, season.ended_at, season.reset) == (1, None, False)
    assert not SeasonStanding.objects.exists()
    assert period_start("season", guild_id=guild.pk) == season.started_at
    entry = AuditLogEntry.objects.get(action="season.start")
    assert entry.actor == MOD and entry.guild_id == guild.pk


def test_the_season_board_counts_only_markets_settled_since_it_started(
    guild: Guild, creator: Member
) -> None:
    winner, _loser, _market = won_and_lost(guild, creator)
    start(guild)  # the market above was settled before it: not this season's

    rows, own = worth_leaderboard(
        guild.pk, by="profit", since=period_start("season", guild_id=guild.pk), member=winner
    )

    assert {r.display_name: r.profit for r in rows}["winner"] == 0
    assert own is not None and own.profit == 0


def test_starting_the_next_season_archives_the_old_ones_standings(
    guild: Guild, creator: Member
) -> None:
    first = start(guild)
    winner, loser, _market = won_and_lost(guild, creator)
    gain = balance_of(winner) - guild.starting_balance

    second = start(guild)

    first.refresh_from_db()
    assert first.ended_at == second.started_at and second.number == 2
    standings = {s.member.display_name: s for s in SeasonStanding.objects.filter(season=first)}
    assert set(standings) == {"creator", "winner", "loser"}  # every member, traders or not
    assert (standings["winner"].rank, standings["winner"].profit) == (1, gain)
    assert standings["winner"].balance == balance_of(winner)
    assert (standings["loser"].rank, standings["loser"].profit) == (3, -100)
    assert (standings["creator"].rank, standings["creator"].profit) == (2, 0)
    archived = season_standings(guild_id=guild.pk, number=1, limit=2, member_id=loser.pk)
    assert [r.member.display_name for r in archived.rows] == ["winner", "creator"]
    assert archived.own is not None and archived.own.rank == 3 and archived.members == 3
    announced = OutboxEvent.objects.get(kind="season.started", aggregate_id=str(second.pk))
    assert announced.payload["ended"] == 1
    assert announced.payload["top"][0] == {"rank": 1, "display_name": "winner", "profit": gain}


def house_balance(guild: Guild) -> int:
    return Account.objects.get(guild=guild, kind=AccountKind.HOUSE).balance


def test_reset_brings_every_balance_to_the_start_and_the_ledger_still_sums_to_zero(
    guild: Guild, creator: Member
) -> None:
    _winner, _loser, _settled = won_and_lost(guild, creator)
    members = Account.objects.filter(guild=guild, kind=AccountKind.MEMBER)
    owed = sum(guild.starting_balance - b for b in members.values_list("balance", flat=True))
    house_before = house_balance(guild)

    result = season_start(
        guild_id=guild.pk, actor=MOD, is_moderator=True, reset=True, idempotency_key=new_key()
    )

    assert set(members.values_list("balance", flat=True)) == {guild.starting_balance}
    assert house_balance(guild) == house_before - owed  # the house pays exactly the difference
    assert result.members_reset == 2  # the creator was at the start already
    assert result.season.members_reset == 2
    resets = LedgerTransaction.objects.filter(
        idempotency_key__startswith=reset_key_prefix(result.season)
    )
    assert resets.count() == 2
    for txn in resets:
        assert txn.kind == "adjustment" and "season 1" in txn.memo
        assert sum(txn.entries.values_list("amount", flat=True)) == 0
    assert guild_total(guild.pk) == 0
    assert_ledger_sound()


def test_the_same_key_twice_starts_one_season(guild: Guild, creator: Member) -> None:
    won_and_lost(guild, creator)
    key = new_key()
    first = season_start(
        guild_id=guild.pk, actor=MOD, is_moderator=True, reset=True, idempotency_key=key
    )
    before = money_state()

    again = season_start(
        guild_id=guild.pk, actor=MOD, is_moderator=True, reset=True, idempotency_key=key
    )

    assert again.replayed and again.season.pk == first.season.pk
    assert again.members_reset == first.members_reset
    assert money_state() == before
    assert Season.objects.filter(guild=guild).count() == 1
    with refused(IdempotencyConflict):
        season_start(
            guild_id=guild.pk, actor=MOD, is_moderator=True, reset=False, idempotency_key=key
        )
    assert money_state() == before


def test_a_member_who_is_not_a_moderator_is_refused(guild: Guild, creator: Member) -> None:
    before = money_state()

    with refused(PermissionDenied):
        season_start(
            guild_id=guild.pk,
            actor=f"discord:{creator.discord_id}",
            is_moderator=False,
            reset=True,
            idempotency_key=new_key(),
        )

    assert money_state() == before and not Season.objects.exists()


def test_a_member_of_another_guild_is_never_in_the_board(
    guild: Guild, creator: Member, outsider: Member
) -> None:
    first = start(guild)
    other = start(outsider.guild)
    won_and_lost(guild, creator)
    start(guild)

    rows, own = worth_leaderboard(guild.pk, by="profit", since=first.started_at, member=outsider)
    assert own is None and outsider.pk not in [r.member_id for r in rows]
    assert not SeasonStanding.objects.filter(season=first, member=outsider).exists()
    with refused(InvalidState):  # the other guild's season 1 is still open
        season_standings(guild_id=outsider.guild_id, number=1)
    assert other.number == 1


def test_the_season_board_needs_a_season(guild: Guild) -> None:
    with refused(InvalidState):
        period_start("season", guild_id=guild.pk)


def test_the_database_holds_one_open_season_per_guild(guild: Guild) -> None:
    start(guild)
    with pytest.raises(IntegrityError), transaction.atomic():
        Season.objects.create(
            guild=guild,
            number=2,
            started_at=timezone.now() + timedelta(seconds=1),
            started_by=MOD,
            idempotency_key=new_key(),
        )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_queue_on_the_guild_and_a_shared_key_starts_one() -> None:
    guild = make_guild(min_resolution_votes=2)
    creator = make_member(guild, "creator")
    won_and_lost(guild, creator)

    def start_with(key: str) -> object:
        return season_start(
            guild_id=guild.pk, actor=MOD, is_moderator=True, reset=True, idempotency_key=key
        )

    outcomes = run_concurrently(
        [lambda: start_with("k-1"), lambda: start_with("k-1"), lambda: start_with("k-2")],
        workers=3,
    )

    assert [o.error for o in outcomes] == [None, None, None]
    assert outcomes[0].value.season.pk == outcomes[1].value.season.pk
    seasons = list(Season.objects.filter(guild=guild).order_by("number"))
    assert [s.number for s in seasons] == [1, 2]
    assert seasons[0].ended_at == seasons[1].started_at and seasons[1].ended_at is None
    # The first season's standings were archived once, by the start that ended it.
    assert SeasonStanding.objects.filter(season=seasons[0]).count() == 3
    assert set(
        Account.objects.filter(guild=guild, kind=AccountKind.MEMBER).values_list(
            "balance", flat=True
        )
    ) == {guild.starting_balance}
    assert guild_total(guild.pk) == 0
    assert_ledger_sound()


def test_a_reset_is_refused_while_a_market_still_holds_members_shares(
    guild: Guild, creator: Member
) -> None:
    """Parked points would escape it: two members put their whole balance into opposite
    answers, are topped up to the start by the reset, then sell back (or the market is
    cancelled) — the house pays for points that never left them."""
    a, b = make_member(guild, "a"), make_member(guild, "b")
    parked = make_market(creator)
    bet(a, parked, 0, guild.starting_balance)
    bet(b, parked, 1, guild.starting_balance)
    before = money_state()

    with refused(InvalidState) as refusal:
        start(guild, reset=True)

    assert f"#{parked.pk}" in refusal.value.message
    assert money_state() == before
    assert not Season.objects.filter(guild=guild).exists()
    # Without the reset the season starts, and the positions are untouched.
    assert start(guild).reset is False

    def points(state: dict[str, object]) -> dict[str, object]:
        return {k: v for k, v in state.items() if k not in ("outbox", "audit")}

    assert points(money_state()) == points(before)


def test_a_reset_leaves_a_frozen_members_balance_alone(guild: Guild, creator: Member) -> None:
    """A freeze stops every movement of the member's points; a reset is no exception."""
    from points.services import member_set_frozen
    from tests.factories import set_balance

    frozen = make_member(guild, "frozen")
    set_balance(frozen, 0)
    member_set_frozen(member=frozen, frozen=True, reason="abuse", actor=MOD)

    start(guild, reset=True)

    assert balance_of(frozen) == 0
    assert_ledger_sound()

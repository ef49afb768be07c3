"""Seasons: a moderator starts one; the old one's standings are archived once.

``season_start`` is the one writer of ``Season`` and ``SeasonStanding``:

* moderators only (the caller says whether the actor is one, from Discord's
  roles at the time of the action, as for every moderator action);
* idempotent by key: the same key returns the season it started; the same key
  with another ``reset`` (or in another guild) is a conflict that changes nothing;
* atomic, under the guild row's lock (two starts in one guild queue, so each
  archives the season the other opened, never the same one twice);
* the season that was open ends now, and every member's final place (profit
  over the markets settled during it, balance at the end) is written by one
  ``INSERT … SELECT`` (``betting.leaderboards.standings_archive``);
* with ``reset``: every member's balance is brought to the guild's starting
  balance against the house, one ledger transaction per member whose balance
  changes, all written at once by ``points.ledger_batch.ledger_post_batch`` (the
  batch form of ``ledger_post`` that settlement uses). Not one transaction of
  100,000 legs: the ledger's deferred balance trigger sums a transaction's
  entries for each entry, so one huge transaction costs n² (14.6 s for 10,000
  members in ``bench/leaderboard.py``). With 100,000 members a start with reset
  took 26 s there (archive about 2 s, the 100,000 postings the rest), holding
  every member account's row lock meanwhile: bets and claims wait, none fails.
  A reset is refused while any market not yet settled holds members' shares
  (points parked in shares would escape it and be paid twice by the house);
  frozen members keep their balance. Nothing undoes a reset except another
  season's.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from betting.leaderboards import standings_archive
from betting.models import Position, Season, SeasonStanding
from points.ledger import Leg
from points.ledger_batch import Posting as BatchPosting
from points.ledger_batch import ledger_post_batch
from points.models import (
    Account,
    AccountKind,
    Guild,
    Member,
    PointsBackend,
    TransactionKind,
)
from predictmarket.audit import audit_record
from predictmarket.errors import (
    IdempotencyConflict,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from predictmarket.outbox import outbox_append

ANNOUNCED_STANDINGS = 10  # the ended season's top rows in the announcement


@dataclass(frozen=True)
class SeasonStarted:
    season: Season
    ended: Season | None  # the season this start ended, if one was open
    members_reset: int  # members whose balance the reset changed
    replayed: bool


def season_start(
    *, guild_id: int, actor: str, is_moderator: bool, reset: bool, idempotency_key: str
) -> SeasonStarted:
    """End the guild's open season (archiving its standings) and open the next one."""
    if not is_moderator:
        raise PermissionDenied(
            "Only moderators can start a season (the server's moderator role or Manage Server)."
        )
    if not idempotency_key or len(idempotency_key) > 200:
        raise ValidationFailed("An idempotency key of 1-200 characters is required.")
    replay = _replay(guild_id=guild_id, reset=reset, idempotency_key=idempotency_key)
    if replay is not None:
        return replay
    with transaction.atomic():
        # NO KEY UPDATE: serialises season starts without blocking the inserts
        # (members, markets) that reference the guild row.
        guild = Guild.objects.select_for_update(no_key=True).filter(pk=guild_id).first()
        if guild is None:
            raise NotFound("This server is not set up yet.")
        # Again under the lock: a start with this key may have committed while we waited.
        replay = _replay(guild_id=guild_id, reset=reset, idempotency_key=idempotency_key)
        if replay is not None:
            return replay
        if reset and guild.points_backend == PointsBackend.DRIP:
            raise InvalidState(
                "This server's balances live in DRIP: a season can start here, but without "
                "resetting balances."
            )
        now = timezone.now()
        ended = Season.objects.filter(guild_id=guild_id, ended_at__isnull=True).first()
        if ended is not None:
            standings_archive(season=ended, until=now)
            ended.ended_at = now
            ended.save(update_fields=["ended_at"])
        number = (
            Season.objects.filter(guild_id=guild_id).aggregate(last=Max("number"))["last"] or 0
        ) + 1
        season = Season.objects.create(
            guild_id=guild_id,
            number=number,
            started_at=now,
            started_by=actor[:100],
            reset=reset,
            idempotency_key=idempotency_key,
        )
        members_reset = 0
        if reset:
            members_reset = _reset_balances(guild, season=season, actor=actor)
            season.members_reset = members_reset
            season.save(update_fields=["members_reset"])
        data = {
            "number": number,
            "reset": reset,
            "starting_balance": guild.starting_balance if reset else None,
            "members_reset": members_reset,
            "ended": ended.number if ended else None,
        }
        audit_record(
            actor=actor, action="season.start", guild_id=guild_id, target=season, data=data
        )
        outbox_append(
            kind="season.started",
            guild_id=guild_id,
            aggregate_type="season",
            aggregate_id=season.pk,
            payload={**data, "top": _top_rows(ended) if ended else []},
        )
    return SeasonStarted(season=season, ended=ended, members_reset=members_reset, replayed=False)


def _replay(*, guild_id: int, reset: bool, idempotency_key: str) -> SeasonStarted | None:
    earlier = Season.objects.filter(idempotency_key=idempotency_key).first()
    if earlier is None:
        return None
    if earlier.guild_id != guild_id or earlier.reset != reset:
        raise IdempotencyConflict(key=idempotency_key)
    ended = Season.objects.filter(guild_id=guild_id, number=earlier.number - 1).first()
    return SeasonStarted(
        season=earlier, ended=ended, members_reset=earlier.members_reset, replayed=True
    )


def reset_key_prefix(season: Season) -> str:
    """Every reset transaction of ``season`` has a key starting with this."""
    return f"season:{season.guild_id}:{season.number}:reset:"


def _reset_balances(guild: Guild, *, season: Season, actor: str) -> int:
    """Post what brings every member's balance to the starting balance; how many moved."""
    _refuse_while_points_are_parked(guild)  # before locking every account for nothing
    # Every member account and the house, locked in primary-key order (the ledger's
    # lock order): no trade, claim or tip moves a balance between this read and
    # the postings, so each member ends at exactly the starting balance.
    accounts = list(
        Account.objects.select_for_update()
        .filter(guild_id=guild.pk, kind__in=[AccountKind.HOUSE, AccountKind.MEMBER])
        .order_by("pk")
        .values_list("pk", "kind", "balance")
    )
    house = next((pk for pk, kind, _ in accounts if kind == AccountKind.HOUSE), None)
    if house is None:
        raise NotFound("This server is not set up yet.")
    _refuse_while_points_are_parked(guild)  # again: no bet can add a position from here
    frozen = set(
        Member.objects.filter(guild_id=guild.pk, is_frozen=True).values_list("account", flat=True)
    )
    start = guild.starting_balance
    memo = f"season {season.number}: balance reset to the starting balance ({start:,})"
    postings = [
        BatchPosting(
            legs=[Leg(house, balance - start), Leg(pk, start - balance)],
            kind=TransactionKind.ADJUSTMENT,
            memo=memo,
            idempotency_key=f"{reset_key_prefix(season)}{pk}",
        )
        for pk, kind, balance in accounts
        # A freeze stops every movement of the member's points, a reset's too.
        if kind == AccountKind.MEMBER and balance != start and pk not in frozen
    ]
    return len(ledger_post_batch(guild_id=guild.pk, postings=postings, actor=actor))


def _refuse_while_points_are_parked(guild: Guild) -> None:
    """No reset while a market not yet settled holds members' shares.

    The reset sets each member's *cash* to the start. Points in shares would
    survive it: two members who put everything into opposite answers are
    topped up from the house, then sell back (or the market is cancelled) and
    leave with the start plus their parked points — the house pays for points
    that never left them, once per reset. Checked after every member account is
    locked, so no bet can add a position before the reset commits.
    """
    holding = list(
        Position.objects.filter(
            market__guild_id=guild.pk, market__settled_at__isnull=True, shares__gt=0
        )
        .values_list("market_id", flat=True)
        .distinct()
        .order_by("market_id")[:6]
    )
    if holding:
        shown = ", ".join(f"#{pk}" for pk in holding[:5]) + (" …" if len(holding) > 5 else "")
        raise InvalidState(
            "Balances can be reset only when no market holds members' shares; still holding: "
            f"{shown}. Wait for them to be settled (or cancel them), or start the season "
            "without a reset."
        )


def _top_rows(season: Season) -> list[dict]:
    rows = (
        SeasonStanding.objects.filter(season=season)
        .select_related("member")
        .order_by("rank", "member_id")[:ANNOUNCED_STANDINGS]
    )
    return [
        {"rank": r.rank, "display_name": r.member.display_name, "profit": r.profit} for r in rows
    ]


# ------------------------------------------------------------------------------
# Reads
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class ArchivedStandings:
    season: Season
    rows: list[SeasonStanding]
    own: SeasonStanding | None
    members: int


def season_standings(
    *, guild_id: int, number: int, limit: int = 10, member_id: int | None = None
) -> ArchivedStandings:
    """An ended season's archived standings in this guild (top ``limit``, and the caller's)."""
    season = Season.objects.filter(guild_id=guild_id, number=number).first()
    if season is None:
        raise NotFound(f"This server has no season {number}.")
    if season.ended_at is None:
        raise InvalidState(
            f"Season {number} is still going: its board is the leaderboard's season period."
        )
    limit = max(1, min(limit, 100))
    standings = SeasonStanding.objects.filter(season=season).select_related("member")
    rows = list(standings.order_by("rank", "member_id")[:limit])
    own = standings.filter(member_id=member_id).first() if member_id else None
    return ArchivedStandings(season=season, rows=rows, own=own, members=standings.count())


def seasons_list(*, guild_id: int) -> list[Season]:
    """The guild's seasons, newest first."""
    return list(Season.objects.filter(guild_id=guild_id).order_by("-number"))

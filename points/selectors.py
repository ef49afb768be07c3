"""Reads over members and the ledger: balances, history, leaderboard."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from points.leaderboard_cache import cached_board
from points.models import Account, AccountKind, Guild, LedgerEntry, Member, PointsBackend
from predictmarket.errors import InvalidState

MAX_PAGE_SIZE = 100


def member_balance(member: Member) -> int:
    return Account.objects.values_list("balance", flat=True).get(member=member)


@dataclass(frozen=True)
class HistoryPage:
    entries: list[LedgerEntry]
    next_before: int | None  # pass as ``before`` for the next (older) page


def member_history(member: Member, *, limit: int = 20, before: int | None = None) -> HistoryPage:
    """A member's ledger entries, newest first, by keyset pagination on the entry id."""
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    entries = LedgerEntry.objects.filter(account__member=member).select_related("transaction")
    if before is not None:
        entries = entries.filter(id__lt=before)
    page = list(entries.order_by("-id")[: limit + 1])
    has_more = len(page) > limit
    page = page[:limit]
    return HistoryPage(entries=page, next_before=page[-1].id if has_more else None)


@dataclass(frozen=True)
class LeaderboardRow:
    rank: int
    member_id: int
    discord_id: int
    display_name: str
    balance: int


@dataclass(frozen=True)
class Leaderboard:
    rows: list[LeaderboardRow]
    own: LeaderboardRow | None


def balance_leaderboard(
    guild_id: int, *, limit: int = 10, member: Member | None = None
) -> Leaderboard:
    """Top members by balance and the caller's own rank (ties share a rank).

    Both queries walk ``account_leaderboard_idx`` (guild, kind, balance desc), so
    they stay fast with 100,000 members. The top rows are cached for a few
    seconds per guild (``points.leaderboard_cache``); the caller's own balance
    and rank are always counted live (an index-only count, a few ms).
    """
    if Guild.objects.filter(pk=guild_id, points_backend=PointsBackend.DRIP).exists():
        # Balances live in DRIP; ranking them would take a DRIP call per member.
        raise InvalidState(
            "This server keeps its points in DRIP: see DRIP for balances, or rank by profit here."
        )
    limit = max(1, min(limit, MAX_PAGE_SIZE))
    top = cached_board(guild_id, "balance", "all", lambda: _balance_top(guild_id))
    own = None
    if member is not None and member.guild_id == guild_id:
        balance = member_balance(member)
        rank = _member_accounts(guild_id).filter(balance__gt=balance).count() + 1
        own = LeaderboardRow(
            rank=rank,
            member_id=member.pk,
            discord_id=member.discord_id,
            display_name=member.display_name,
            balance=balance,
        )
    return Leaderboard(rows=top[:limit], own=own)


def _member_accounts(guild_id: int) -> QuerySet[Account]:
    return Account.objects.filter(guild_id=guild_id, kind=AccountKind.MEMBER)


def _balance_top(guild_id: int) -> list[LeaderboardRow]:
    """The first ``MAX_PAGE_SIZE`` members by balance, ranked (what any ``limit`` cuts)."""
    top = _member_accounts(guild_id).order_by("-balance", "id")
    values = top.values("balance", "member_id", "member__discord_id", "member__display_name")
    rows: list[LeaderboardRow] = []
    for position, row in enumerate(values[:MAX_PAGE_SIZE], start=1):
        previous = rows[-1] if rows else None
        rank = previous.rank if previous and previous.balance == row["balance"] else position
        rows.append(
            LeaderboardRow(
                rank=rank,
                member_id=row["member_id"],
                discord_id=row["member__discord_id"],
                display_name=row["member__display_name"],
                balance=row["balance"],
            )
        )
    return rows


def member_display_balance(member: Member) -> int:
    """The balance a member sees: from DRIP (cached briefly) when the guild keeps points there.

    Raises ``DripUnavailable`` with a clear message when DRIP cannot be reached.
    """
    from points.drip.services import drip_balance, is_drip_guild

    if is_drip_guild(member.guild):
        return drip_balance(member)
    return member_balance(member)

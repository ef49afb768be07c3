"""What the leaderboard web pages show (the members' pages and the public ones).

One reading of the query string for both: ``by`` (balance, net worth, profit),
``period`` (profit only: all time, last week, last month, this season) and
``season=<n>`` (an ended season's archived standings). Refusals the member
should read (a DRIP guild's balances, no season started yet, an unknown or
running season) come back as ``error`` with no rows, never as a 500.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from betting.leaderboards import period_start
from betting.seasons import season_standings, seasons_list
from betting.selectors import worth_leaderboard
from points.models import Member
from points.selectors import balance_leaderboard
from predictmarket.errors import InvalidState, NotFound

BOARDS = {"balance": "Balance", "net_worth": "Net worth", "profit": "Profit"}
PERIOD_NAMES = {
    "all": "All time",
    "week": "Last week",
    "month": "Last month",
    "season": "This season",
}


@dataclass
class BoardPage:
    by: str
    period: str
    season: int | None
    title: str
    rows: list[tuple[int, int, str, Any]] = field(default_factory=list)
    own: tuple[int, int, str, Any] | None = None
    error: InvalidState | NotFound | None = None
    ended_seasons: list[int] = field(default_factory=list)

    @property
    def boards(self) -> dict[str, str]:
        return BOARDS

    @property
    def periods(self) -> dict[str, str]:
        return PERIOD_NAMES


def _number(text: str | None) -> int | None:
    text = (text or "").strip()
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else None


def board_page(guild_id: int, query: Any, *, limit: int, member: Member | None = None) -> BoardPage:
    """The board a page's query string asks for, top ``limit`` rows and the member's own."""
    by = query.get("by", "balance")
    if by not in BOARDS:
        by = "balance"
    period = query.get("period", "all")
    if period not in PERIOD_NAMES or by != "profit":
        period = "all"
    season = _number(query.get("season"))
    ended = [s.number for s in seasons_list(guild_id=guild_id) if s.ended_at is not None]
    title = BOARDS[by] + ("" if period == "all" else f", {PERIOD_NAMES[period].lower()}")
    board = BoardPage(by=by, period=period, season=season, title=title, ended_seasons=ended)
    try:
        if season is not None:
            _archived(board, guild_id, season, limit=limit, member=member)
        elif by == "balance":
            balances = balance_leaderboard(guild_id, limit=limit, member=member)
            board.rows = [(r.rank, r.member_id, r.display_name, r.balance) for r in balances.rows]
            if balances.own:
                own = balances.own
                board.own = (own.rank, own.member_id, own.display_name, own.balance)
        else:
            since = period_start(period, guild_id=guild_id)
            ranked, mine = worth_leaderboard(
                guild_id, by=by, limit=limit, member=member, since=since
            )

            def score(r: Any) -> Any:
                return r.net_worth if by == "net_worth" else r.profit

            board.rows = [(r.rank, r.member_id, r.display_name, score(r)) for r in ranked]
            if mine:
                board.own = (mine.rank, mine.member_id, mine.display_name, score(mine))
    except (InvalidState, NotFound) as error:
        board.error = error
    return board


def _archived(
    board: BoardPage, guild_id: int, number: int, *, limit: int, member: Member | None
) -> None:
    archived = season_standings(
        guild_id=guild_id, number=number, limit=limit, member_id=member.pk if member else None
    )
    board.by, board.period = "profit", "all"
    board.title = f"Season {number}: final standings by profit"
    board.rows = [(r.rank, r.member_id, r.member.display_name, r.profit) for r in archived.rows]
    if archived.own:
        own = archived.own
        board.own = (own.rank, own.member_id, own.member.display_name, own.profit)

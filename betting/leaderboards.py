"""Leaderboards by net worth and by profit, computed in one SQL statement per board.

Scores, per member of the guild (every member account, traders or not):

* **net worth** = balance + the value of their positions on live (open or
  closed, undecided) markets, each marked at the market maker's current price
  ``(1/b_i) / Σ_k (1/b_k)`` (``markets.amm.prices``), computed from the pools
  in SQL with a window over each market's outcomes;
* **profit, all time** = points received - points spent on every market
  (payouts and refunds count as received) + that same open value;
* **profit since a moment** (weekly, monthly, a season) = points received -
  points spent on the markets *settled* (paid out, cancelled or refunded)
  since then. A market counts in the period it ended, once, with its whole
  result; open bets neither help nor hurt a period until their market ends.

Values are rounded to cents in SQL; ties (equal cents) share a rank, the next
rank skips (1, 1, 3), and equal scores are listed by member id.

One statement scores every member and returns them ranked: the guild's live
prices (a few hundred outcomes) from the pools, then the positions. A whole
board reads every open position of the guild once (a hash join: for most of
a table a sequential read beats an index); a period's board reads only the
markets settled in it (``market_guild_settled``) and their positions from the
covering ``position_flows_idx`` (market → member, points); one member's
figures go through their own positions (``position_unique``: member, outcome).
``bench/leaderboard.py`` prints each statement's plan.

The board (top ``MAX_ROWS`` rows, every member's score and id, as compact
arrays) is cached briefly per guild, board and period
(``points.leaderboard_cache``); the caller's own figures are read live from
their own positions and ranked against that board exactly (the number of
other members with a higher score, plus one).
"""

from __future__ import annotations

import bisect
from array import array
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from django.db import connection, transaction
from django.utils import timezone

from betting.models import Position, Season, SeasonStanding
from markets.models import Market, MarketStatus, Outcome
from points.leaderboard_cache import cached_board
from points.models import Account, AccountKind, Member
from predictmarket.errors import InvalidState

Board = Literal["net_worth", "profit"]
BOARDS: tuple[Board, ...] = ("net_worth", "profit")
MAX_ROWS = 100  # the longest page any caller asks for (API limit, public page)
CENTS = Decimal(100)


@dataclass(frozen=True)
class WorthRow:
    rank: int
    member_id: int
    discord_id: int
    display_name: str
    balance: int
    value: Decimal  # open positions marked at current prices, to the cent
    profit: Decimal  # of the board's period (all time on the net-worth board)

    @property
    def net_worth(self) -> Decimal:
        return self.balance + self.value


@dataclass(frozen=True)
class ScoredBoard:
    """What is cached: the top rows, and every member's score to rank anyone against."""

    rows: list[WorthRow]
    # Every member's score in cents, negated and ascending (highest score first), so
    # ``bisect_left(neg_scores, -s)`` counts the members who score more than ``s``;
    # and their member ids in the same order.
    neg_scores: array
    member_ids: array

    def rank_of(self, member_id: int, score_cents: int) -> int:
        """1 + the number of *other* members scoring more than ``score_cents`` here."""
        higher = bisect.bisect_left(self.neg_scores, -score_cents)
        try:
            # The member's own (older) score on this board is not someone else's.
            if -self.neg_scores[self.member_ids.index(member_id)] > score_cents:
                higher -= 1
        except ValueError:  # a member who joined after this board was computed
            pass
        return higher + 1


def _tables() -> dict[str, str]:
    return {
        "account": Account._meta.db_table,
        "member": Member._meta.db_table,
        "market": Market._meta.db_table,
        "outcome": Outcome._meta.db_table,
        "position": Position._meta.db_table,
    }


def _scored_sql(
    *, board: Board, since: datetime | None, one_member: bool, bounded: bool = False
) -> str:
    """CTEs ending in ``scored``: member_id, balance, value_cents, net, score (cents).

    ``net`` is points received - spent: over the period's settled markets on the
    profit board, over all markets (all-time profit, for display) for one member.
    """
    only_member = "AND p.member_id = %(member)s" if one_member else ""
    # One member's figures need the prices of their own markets only.
    own_markets = (
        "AND m.id IN (SELECT p.market_id FROM {position} p WHERE p.member_id = %(member)s)"
        if one_member
        else ""
    )
    settled = "AND m.settled_at >= %(since)s" if since is not None else ""
    if bounded:  # an ended period: markets settled before its end only
        settled += " AND m.settled_at < %(until)s"
    with_flows = board == "profit" or one_member
    flows_settled = settled if board == "profit" else ""
    # A period's board ranks settled markets only: the open value is shown for the
    # top rows (see _board_sql), not computed for every member.
    with_marks = board == "net_worth" or since is None or one_member
    value = "CAST(ROUND(COALESCE(mk.value, 0) * 100) AS BIGINT)" if with_marks else "NULL"
    if board == "net_worth":
        score = f"a.balance * 100 + {value}"
    elif since is None:
        score = f"COALESCE(f.net, 0) * 100 + {value}"
    else:
        score = "COALESCE(f.net, 0) * 100"
    # Only fixed fragments and table names are formatted in; every value is a parameter.
    flows = (
        f""",
        flows AS (
            SELECT p.member_id, SUM(p.points_received - p.points_spent) AS net
            FROM {{market}} m JOIN {{position}} p ON p.market_id = m.id
            WHERE m.guild_id = %(guild)s {flows_settled} {only_member}
            GROUP BY p.member_id
        )"""  # noqa: S608
        if with_flows
        else ""
    )
    return f"""
        WITH prices AS (
            SELECT o.id AS outcome_id,
                   (1.0 / o.pool) / SUM(1.0 / o.pool) OVER (PARTITION BY o.market_id) AS price
            FROM {{outcome}} o JOIN {{market}} m ON m.id = o.market_id
            WHERE m.guild_id = %(guild)s AND m.status IN (%(open)s, %(closed)s) {own_markets}
        ),
        marks AS (
            SELECT p.member_id, SUM(p.shares * pr.price) AS value
            FROM prices pr JOIN {{position}} p ON p.outcome_id = pr.outcome_id
            WHERE p.shares > 0 {only_member}
            GROUP BY p.member_id
        ){flows},
        scored AS (
            SELECT a.member_id, a.balance, {value} AS value_cents,
                   {"COALESCE(f.net, 0)" if with_flows else "NULL"} AS net,
                   CAST({score} AS BIGINT) AS score
            FROM {{account}} a
            {"LEFT JOIN marks mk ON mk.member_id = a.member_id" if with_marks else ""}
            {"LEFT JOIN flows f ON f.member_id = a.member_id" if with_flows else ""}
            WHERE a.guild_id = %(guild)s AND a.kind = %(member_kind)s
            {"AND a.member_id = %(member)s" if one_member else ""}
        )"""  # noqa: S608


def _params(
    guild_id: int,
    since: datetime | None,
    member_id: int | None = None,
    until: datetime | None = None,
) -> dict:
    return {
        "guild": guild_id,
        "since": since,
        "until": until,
        "member": member_id,
        "open": MarketStatus.OPEN.value,
        "closed": MarketStatus.CLOSED.value,
        "member_kind": AccountKind.MEMBER.value,
        "top": MAX_ROWS,
    }


def _board_sql(board: Board, since: datetime | None, *, bounded: bool = False) -> str:
    # On the net-worth board a shown row's profit (all time) is summed for the top
    # rows only: PostgreSQL runs a CASE branch's subquery only for rows that take it.
    if board == "net_worth":
        profit = """CASE WHEN r.place <= %(top)s THEN
                (SELECT COALESCE(SUM(p.points_received - p.points_spent), 0)
                 FROM {position} p WHERE p.member_id = r.member_id) * 100 + r.value_cents
            END"""
    else:
        profit = "r.score"
    value = "r.value_cents"
    if board == "profit" and since is not None:
        value = """CASE WHEN r.place <= %(top)s THEN CAST(ROUND(COALESCE(
                (SELECT SUM(p.shares * pr.price)
                 FROM prices pr JOIN {position} p ON p.outcome_id = pr.outcome_id
                 WHERE p.member_id = r.member_id AND p.shares > 0), 0) * 100) AS BIGINT)
            END"""
    ranked = f""",
        ranked AS (
            SELECT scored.*, ROW_NUMBER() OVER (ORDER BY score DESC, member_id) AS place
            FROM scored
        )
        SELECT r.member_id, r.score, r.balance, {value}, {profit},
               mem.discord_id, mem.display_name
        FROM ranked r LEFT JOIN {{member}} mem ON mem.id = r.member_id AND r.place <= %(top)s
        ORDER BY r.place"""  # noqa: S608
    scored = _scored_sql(board=board, since=since, one_member=False, bounded=bounded)
    return (scored + ranked).format(**_tables())


def _own_sql(board: Board, since: datetime | None) -> str:
    own = "\n        SELECT balance, value_cents, net, score FROM scored"
    return (_scored_sql(board=board, since=since, one_member=True) + own).format(**_tables())


def _cents(value: int) -> Decimal:
    return Decimal(int(value)) / CENTS


def _jit_off(cursor: object) -> None:
    if connection.vendor == "postgresql":
        # The planner's cost for a whole guild passes jit_above_cost, and compiling
        # the plan then took 3.1 s of a 4.1 s run (EXPLAIN ANALYZE, 10,000 members
        # and 200,000 positions) for a query that runs in well under one.
        cursor.execute("SET LOCAL jit = off")  # type: ignore[attr-defined]


def compute_board(
    guild_id: int, *, board: Board, since: datetime | None, until: datetime | None = None
) -> ScoredBoard:
    """Score and rank every member of the guild (one statement; not cached).

    ``until`` (the profit board of an ended period): only the markets settled
    in ``[since, until)`` count.
    """
    if until is not None and (board != "profit" or since is None):
        raise ValueError("until bounds a profit period")
    with transaction.atomic(), connection.cursor() as cursor:
        _jit_off(cursor)
        cursor.execute(
            _board_sql(board, since, bounded=until is not None),
            _params(guild_id, since, until=until),
        )
        records = cursor.fetchall()
    rows: list[WorthRow] = []
    neg_scores = array("q", (-int(r[1]) for r in records))
    member_ids = array("q", (r[0] for r in records))
    for position, (member_id, score, balance, value, profit, discord_id, name) in enumerate(
        records[:MAX_ROWS], start=1
    ):
        previous_score = records[position - 2][1] if position > 1 else None
        rank = rows[-1].rank if previous_score == score else position
        rows.append(
            WorthRow(rank, member_id, discord_id, name, balance, _cents(value), _cents(profit))
        )
    return ScoredBoard(rows=rows, neg_scores=neg_scores, member_ids=member_ids)


def own_row(
    member: Member, *, guild_id: int, board: Board, since: datetime | None, ranked: ScoredBoard
) -> WorthRow | None:
    """The member's live figures, ranked against the (possibly cached) board."""
    if member.guild_id != guild_id:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_own_sql(board, since), _params(guild_id, since, member.pk))
        record = cursor.fetchone()
    if record is None:
        return None
    balance, value, net, score = record
    value_cents = int(value)
    profit = _cents(score) if board == "profit" else _cents(int(net) * 100 + value_cents)
    return WorthRow(
        ranked.rank_of(member.pk, int(score)),
        member.pk,
        member.discord_id,
        member.display_name,
        balance,
        _cents(value_cents),
        profit,
    )


# The profit boards' periods (issue 15): rolling windows ending now, and the
# guild's current season (since a moderator started it, ``betting.seasons``).
PERIODS = {"week": timedelta(days=7), "month": timedelta(days=30)}
PERIOD_CHOICES = ("all", *PERIODS, "season")


def period_start(
    period: str, *, now: datetime | None = None, guild_id: int | None = None
) -> datetime | None:
    """When a period's board starts (None: all time); rolling windows to the minute.

    To the minute so that every read within a minute shares one cached board.
    ``season`` needs ``guild_id``: its open season's start, or ``InvalidState``
    when no season has been started there.
    """
    if period == "all":
        return None
    if period == "season":
        if guild_id is None:
            raise ValueError("the season board is a guild's")
        started = (
            Season.objects.filter(guild_id=guild_id, ended_at__isnull=True)
            .values_list("started_at", flat=True)
            .first()
        )
        if started is None:
            raise InvalidState(
                "No season has been started in this server yet: a moderator starts one "
                "with /season start."
            )
        return started
    start = (now or timezone.now()) - PERIODS[period]
    return start.replace(second=0, microsecond=0)


def standings_archive(*, season: Season, until: datetime) -> int:
    """Write every member's final place in ``season`` (ending at ``until``); one statement.

    The season's profit board (markets settled in ``[started_at, until)``),
    ranked as the boards rank (ties share a rank, the next skips), with each
    member's balance now: ``INSERT … SELECT`` from the same scoring SQL, so a
    season of 100,000 members is archived without a row passing through Python.
    """
    insert = """
        INSERT INTO {standing} (season_id, member_id, rank, profit, balance)
        SELECT %(season)s, member_id, RANK() OVER (ORDER BY score DESC), score / 100, balance
        FROM scored"""
    sql = _scored_sql(board="profit", since=season.started_at, one_member=False, bounded=True)
    tables = {**_tables(), "standing": SeasonStanding._meta.db_table}
    with transaction.atomic(), connection.cursor() as cursor:
        _jit_off(cursor)
        params = _params(season.guild_id, season.started_at, until=until)
        cursor.execute((sql + insert).format(**tables), {**params, "season": season.pk})
        return cursor.rowcount


def period_key(since: datetime | None) -> str:
    return "all" if since is None else since.isoformat()


def ranked_board(
    guild_id: int,
    *,
    board: Board,
    limit: int = 10,
    member: Member | None = None,
    since: datetime | None = None,
) -> tuple[list[WorthRow], WorthRow | None]:
    if board not in BOARDS:
        raise ValueError(board)
    if board == "net_worth":
        since = None  # net worth is a standing, not a period's result
    limit = max(1, min(limit, MAX_ROWS))
    scored = cached_board(
        guild_id,
        board,
        period_key(since),
        lambda: compute_board(guild_id, board=board, since=since),
    )
    own = None
    if member is not None:
        own = own_row(member, guild_id=guild_id, board=board, since=since, ranked=scored)
    return scored.rows[:limit], own

"""Net-worth and profit leaderboards: scored in SQL, ranked with ties, cached per guild."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.cache import cache
from django.utils import timezone
from prometheus_client import REGISTRY
from pytest_django import Settings

from betting.leaderboards import compute_board
from betting.selectors import member_portfolio, worth_leaderboard
from betting.settlement import settle_resolved_market
from markets.models import Market
from points.leaderboard_cache import leaderboard_key
from points.models import Guild, Member
from points.selectors import balance_leaderboard
from tests.betting.helpers import bet
from tests.factories import set_balance
from tests.markets.helpers import balance_of, decide, make_guild, make_market, make_member


def reads(result: str) -> float:
    value = REGISTRY.get_sample_value(
        "predictmarket_cache_reads_total", {"kind": "leaderboard", "result": result}
    )
    return value or 0.0


@pytest.fixture
def traders(guild: Guild, creator: Member) -> dict[str, Member]:
    """Three traders with open positions on two markets, and one who never traded."""
    yes_no = make_market(creator)
    three_way = make_market(creator, options=["Red", "Green", "Blue"])
    people = {name: make_member(guild, name) for name in ("ann", "bob", "cy", "dee")}
    bet(people["ann"], yes_no, 0, 200)
    bet(people["bob"], yes_no, 1, 50)
    bet(people["bob"], three_way, 2, 300)
    bet(people["cy"], three_way, 0, 120)
    bet(people["ann"], three_way, 1, 80)
    return people


def by_name(rows: list) -> dict[str, object]:
    return {row.display_name: row for row in rows}


def test_net_worth_marks_open_positions_at_the_market_makers_prices(
    guild: Guild, traders: dict[str, Member]
) -> None:
    rows, _ = worth_leaderboard(guild.pk, by="net_worth", limit=100)

    scored = by_name(rows)
    for name, member in traders.items():
        portfolio = member_portfolio(member)  # the Python valuation, outcome by outcome
        assert scored[name].value == portfolio.value.quantize(Decimal("0.01")), name
        assert scored[name].net_worth == balance_of(member) + scored[name].value
        assert scored[name].profit == portfolio.profit.quantize(Decimal("0.01")), name
    assert scored["dee"].value == 0
    worths = [row.net_worth for row in rows]
    assert worths == sorted(worths, reverse=True)


def test_a_decided_market_counts_its_payout_not_its_shares(
    guild: Guild, creator: Member, traders: dict[str, Member]
) -> None:
    market = Market.objects.filter(guild=guild).order_by("pk").first()
    decide(market, outcome_index=0)
    settle_resolved_market(market_id=market.pk)

    rows, _ = worth_leaderboard(guild.pk, by="net_worth", limit=100)

    ann = traders["ann"]
    assert by_name(rows)["ann"].value == member_portfolio(ann).value.quantize(Decimal("0.01"))
    assert by_name(rows)["ann"].balance == balance_of(ann)  # the payout is in the balance


def test_ties_share_a_rank_and_the_caller_sees_their_own_exactly(guild: Guild) -> None:
    balances = {"ana": 1500, "ben": 1500, "cat": 1200, "dan": 1000, "eve": 1000, "fay": 900}
    members = {}
    for name, balance in balances.items():
        members[name] = make_member(guild, name)
        set_balance(members[name], balance)

    rows, own = worth_leaderboard(guild.pk, by="net_worth", limit=3, member=members["eve"])

    assert [(r.rank, r.display_name, r.net_worth) for r in rows] == [
        (1, "ana", 1500),
        (1, "ben", 1500),
        (3, "cat", 1200),
    ]
    assert own is not None
    assert (own.rank, own.display_name, own.net_worth) == (4, "eve", 1000)
    _, tied = worth_leaderboard(guild.pk, by="net_worth", limit=1, member=members["ben"])
    assert tied is not None and tied.rank == 1


def test_a_member_of_another_guild_gets_no_row(
    guild: Guild, traders: dict[str, Member], outsider: Member
) -> None:
    rows, own = worth_leaderboard(guild.pk, by="net_worth", member=outsider)
    assert own is None
    assert outsider.pk not in [r.member_id for r in rows]


def test_profit_over_a_period_counts_the_markets_settled_in_it(
    guild: Guild, creator: Member
) -> None:
    old, recent, still_open = (make_market(creator) for _ in range(3))
    winner, loser = make_member(guild, "winner"), make_member(guild, "loser")
    bet(winner, old, 1, 100)  # lost long ago
    bet(winner, recent, 0, 100)  # won this week
    bet(loser, recent, 1, 100)  # lost this week
    bet(loser, still_open, 0, 500)  # not decided: counts in no period yet
    for market in (old, recent):
        decide(market, outcome_index=0)
        settle_resolved_market(market_id=market.pk)
    Market.objects.filter(pk=old.pk).update(settled_at=timezone.now() - timedelta(days=20))
    won = member_portfolio(winner, include_closed=True).holdings
    recent_gain = next(h for h in won if h.market_id == recent.pk)
    week = timezone.now() - timedelta(days=7)

    rows, own = worth_leaderboard(guild.pk, by="profit", since=week, member=loser)

    scores = {r.display_name: r.profit for r in rows}
    assert scores["winner"] == recent_gain.points_received - recent_gain.points_spent
    assert scores["loser"] == -100  # the open 500-point bet is not this week's loss
    open_value = member_portfolio(loser).value.quantize(Decimal("0.01"))
    assert open_value > 0 and by_name(rows)["loser"].value == open_value  # shown, not scored
    assert own is not None and own.profit == -100
    assert own.rank == [r.display_name for r in rows].index("loser") + 1
    month_rows, _ = worth_leaderboard(
        guild.pk, by="profit", since=timezone.now() - timedelta(days=30)
    )
    assert by_name(month_rows)["winner"].profit == scores["winner"] - 100


def test_the_board_is_cached_briefly_and_the_callers_own_figures_are_live(
    guild: Guild, traders: dict[str, Member], settings: Settings
) -> None:
    settings.READ_CACHE_ENABLED = True
    hits, misses = reads("hit"), reads("miss")
    first, _ = worth_leaderboard(guild.pk, by="net_worth")
    set_balance(traders["dee"], 1_000_000)

    cached, own = worth_leaderboard(guild.pk, by="net_worth", member=traders["dee"])

    assert cached == first  # the board is the cached one (a few seconds old at most)
    assert own is not None and own.balance == 1_000_000 and own.rank == 1  # but "me" is live
    assert (reads("hit") - hits, reads("miss") - misses) == (1, 1)
    leader = traders[first[0].display_name]
    set_balance(leader, 0)  # the cached leader has fallen: ranked against everyone else
    _, fallen = worth_leaderboard(guild.pk, by="net_worth", member=leader)
    assert fallen is not None
    assert fallen.rank == 1 + sum(r.net_worth > fallen.net_worth for r in first[1:]), first
    settings.READ_CACHE_ENABLED = False
    fresh, _ = worth_leaderboard(guild.pk, by="net_worth")
    assert fresh[0].display_name == "dee"


def test_one_caller_recomputes_a_stale_board_while_the_others_are_served_it(
    guild: Guild, traders: dict[str, Member], settings: Settings
) -> None:
    settings.READ_CACHE_ENABLED = True
    stale, _ = worth_leaderboard(guild.pk, by="net_worth")
    key = leaderboard_key(guild.pk, "net_worth", "all")
    _, board = cache.get(key)
    cache.set(key, (0.0, board))  # its few seconds are over
    set_balance(traders["dee"], 1_000_000)
    cache.add(f"{key}:refreshing", 1)  # another caller is recomputing it
    hits = reads("hit")

    served, _ = worth_leaderboard(guild.pk, by="net_worth")

    assert served == stale and reads("hit") - hits == 1
    cache.delete(f"{key}:refreshing")  # that caller died: the next one recomputes
    misses = reads("miss")
    fresh, _ = worth_leaderboard(guild.pk, by="net_worth")
    assert fresh[0].display_name == "dee" and reads("miss") - misses == 1
    assert worth_leaderboard(guild.pk, by="net_worth")[0] == fresh  # and stores it


@pytest.mark.tenancy
def test_a_guilds_cached_leaderboards_never_show_another_guilds_members(
    guild: Guild, traders: dict[str, Member], settings: Settings
) -> None:
    settings.READ_CACHE_ENABLED = True
    other = make_guild()
    stranger = make_member(other, "stranger")
    ours = {m.pk for m in Member.objects.filter(guild=guild)}
    for by in ("net_worth", "profit"):
        worth_leaderboard(guild.pk, by=by, limit=100)  # fills our guild's cache first
        theirs, own = worth_leaderboard(other.pk, by=by, limit=100, member=stranger)
        assert [r.display_name for r in theirs] == ["stranger"]
        assert own is not None and own.rank == 1
        rows, _ = worth_leaderboard(guild.pk, by=by, limit=100)
        assert {r.member_id for r in rows} == ours
    balance_leaderboard(guild.pk, limit=100)
    assert [r.display_name for r in balance_leaderboard(other.pk, limit=100).rows] == ["stranger"]


def test_an_unreachable_cache_is_counted_and_the_board_comes_from_the_database(
    guild: Guild, traders: dict[str, Member], settings: Settings
) -> None:
    settings.READ_CACHE_ENABLED = True
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens on port 1
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    errors = reads("error")

    rows, own = worth_leaderboard(guild.pk, by="net_worth", limit=100, member=traders["ann"])

    assert rows == compute_board(guild.pk, board="net_worth", since=None).rows
    assert own is not None and own.display_name == "ann"
    assert reads("error") - errors == 1
    assert [r.member_id for r in balance_leaderboard(guild.pk, limit=100).rows]


def test_the_profit_board_rejects_an_unknown_ranking(guild: Guild) -> None:
    with pytest.raises(ValueError, match="luck"):
        worth_leaderboard(guild.pk, by="luck")

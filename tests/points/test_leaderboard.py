"""The leaderboard ranks members by balance; ties share a rank; the caller sees their own."""

from __future__ import annotations

import pytest

from points.models import Guild, Member
from points.selectors import balance_leaderboard
from tests.factories import MemberFactory, set_balance


@pytest.fixture
def ranked(guild: Guild) -> dict[str, Member]:
    """Six members of one guild with known balances (two ties)."""
    balances = {"ana": 1500, "ben": 1500, "cat": 1200, "dan": 1000, "eve": 1000, "fay": 900}
    members = {}
    for name, balance in balances.items():
        members[name] = MemberFactory(guild=guild, display_name=name)
        set_balance(members[name], balance)
    return members


def test_it_ranks_members_by_balance_with_shared_ranks_for_ties(
    guild: Guild, ranked: dict[str, Member]
) -> None:
    board = balance_leaderboard(guild.pk, limit=10)
    assert [(row.rank, row.display_name, row.balance) for row in board.rows] == [
        (1, "ana", 1500),
        (1, "ben", 1500),
        (3, "cat", 1200),
        (4, "dan", 1000),
        (4, "eve", 1000),
        (6, "fay", 900),
    ]
    assert board.own is None


def test_it_shows_the_caller_own_rank_outside_the_top(
    guild: Guild, ranked: dict[str, Member]
) -> None:
    board = balance_leaderboard(guild.pk, limit=3, member=ranked["eve"])
    assert [row.display_name for row in board.rows] == ["ana", "ben", "cat"]
    own = board.own
    assert own is not None
    assert (own.rank, own.display_name, own.balance) == (4, "eve", 1000)
    assert own.discord_id == ranked["eve"].discord_id


def test_it_gives_the_caller_the_shared_rank_of_a_tie(
    guild: Guild, ranked: dict[str, Member]
) -> None:
    board = balance_leaderboard(guild.pk, limit=1, member=ranked["ben"])
    assert [(row.rank, row.display_name) for row in board.rows] == [(1, "ana")]
    assert board.own is not None
    assert board.own.rank == 1


def test_it_ignores_members_of_other_guilds(
    guild: Guild, ranked: dict[str, Member], outsider: Member
) -> None:
    set_balance(outsider, 1_000_000)
    board = balance_leaderboard(guild.pk, limit=10, member=ranked["fay"])
    assert outsider.pk not in [row.member_id for row in board.rows]
    assert board.own is not None
    assert board.own.rank == 6

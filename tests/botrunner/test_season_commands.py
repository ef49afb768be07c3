"""/season start (moderators) and the season boards of /leaderboard, with interaction doubles."""

from __future__ import annotations

import pytest

from betting.models import Season, SeasonStanding
from botrunner.cogs.points import leaderboard_command, tip_command
from botrunner.cogs.seasons import season_start_command
from points.models import Account, AccountKind
from tests.botrunner.conftest import member_for, run
from tests.botrunner.helpers import balance, state

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_moderator_starts_a_season_with_a_reset(slash, guild, moderator, alice, bob) -> None:
    member_for(alice, guild)
    run(tip_command(slash(bob), member=alice, amount=100))
    assert balance(alice) != guild.starting_balance

    started = slash(moderator)
    run(season_start_command(started, reset=True))

    assert "Season 1 has started" in started.last.text
    assert "2 member balances reset" in started.last.text
    members = Account.objects.filter(guild=guild, kind=AccountKind.MEMBER)
    assert set(members.values_list("balance", flat=True)) == {guild.starting_balance}
    # A retried interaction (the same id) starts nothing more.
    run(season_start_command(slash(moderator, id=started.id), reset=True))
    assert Season.objects.filter(guild=guild).count() == 1


def test_a_member_cannot_start_a_season(slash, guild, alice) -> None:
    member_for(alice, guild)
    before = state()
    interaction = slash(alice)

    run(season_start_command(interaction, reset=True))

    assert interaction.last.ephemeral and "Only moderators" in interaction.last.text
    assert state() == before and not Season.objects.exists()


def test_the_season_board_and_an_ended_seasons_standings(slash, guild, moderator, alice) -> None:
    member_for(alice, guild)
    early = slash(alice)
    run(leaderboard_command(early, by="profit", period="season"))
    assert "No season has been started" in early.last.text

    run(season_start_command(slash(moderator)))
    board = slash(alice)
    run(leaderboard_command(board, by="profit", period="season"))
    assert "Leaderboard: Profit, this season" in board.last.text

    run(season_start_command(slash(moderator)))
    assert SeasonStanding.objects.filter(season__number=1).exists()
    archived = slash(alice)
    run(leaderboard_command(archived, season=1))
    assert "Season 1: final standings by profit" in archived.last.text
    assert "alice" in archived.last.text and "You: #1 of" in archived.last.text
    going = slash(alice)
    run(leaderboard_command(going, season=2))
    assert "Season 2 is still going" in going.last.text

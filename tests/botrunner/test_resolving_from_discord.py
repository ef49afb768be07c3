"""/resolve counts a moderator's vote and says how many are still needed; members cannot vote."""

from __future__ import annotations

import pytest

from botrunner.cogs.moderation import (
    market_cancel_command,
    market_close_command,
    own_market_cancel_command,
    resolve_command,
)
from markets.models import Market, ResolutionVote
from markets.services import market_close
from predictmarket.models import AuditLogEntry
from tests.botrunner.conftest import member_for, run
from tests.botrunner.helpers import state

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def closed(market: Market) -> Market:
    market_close(market_id=market.pk, actor="test")
    return market


def _resolve(slash, user, market: Market, outcome: str):
    interaction = slash(user)
    run(resolve_command(interaction, market=str(market.pk), outcome=outcome))
    return interaction


def test_a_vote_is_counted_and_the_reply_says_how_many_remain(slash, closed, moderator) -> None:
    interaction = _resolve(slash, moderator, closed, "1")  # members count from 1
    vote = ResolutionVote.objects.get()
    assert vote.voter == f"discord:{moderator.id}" and vote.outcome.label == "Yes"
    assert interaction.last.ephemeral
    assert "1 of 2 votes" in interaction.last.text
    assert "1 more moderator vote needed" in interaction.last.text
    closed.refresh_from_db()
    assert closed.status == "closed"


def test_the_deciding_vote_resolves_the_market(slash, closed, moderator, admin) -> None:
    _resolve(slash, moderator, closed, "2")
    deciding = _resolve(slash, admin, closed, "No")  # a typed answer works too
    closed.refresh_from_db()
    assert closed.status == "resolved" and closed.winning_outcome.label == "No"
    assert "decided market" in deciding.last.text


def test_votes_for_cancel_cancel_the_market(slash, closed, moderator, second_moderator) -> None:
    _resolve(slash, moderator, closed, "cancel")
    done = _resolve(slash, second_moderator, closed, "cancel")
    closed.refresh_from_db()
    assert closed.status in {"cancelled", "refunded"}
    assert "all trades on it are being unwound" in done.last.text


def test_a_member_cannot_resolve(slash, guild, closed, bob) -> None:
    member_for(bob, guild)
    before = state()
    interaction = _resolve(slash, bob, closed, "1")
    assert interaction.last.ephemeral
    assert "Only moderators can do that" in interaction.last.text
    assert state() == before


def test_resolving_an_open_market_is_refused(slash, market, moderator) -> None:
    interaction = _resolve(slash, moderator, market, "1")
    assert "close the market before resolving it" in interaction.last.text
    assert ResolutionVote.objects.count() == 0


def test_the_same_vote_twice_is_refused(slash, closed, moderator) -> None:
    _resolve(slash, moderator, closed, "1")  # members count from 1
    again = _resolve(slash, moderator, closed, "1")  # members count from 1
    assert "You already voted for that" in again.last.text
    assert ResolutionVote.objects.count() == 1


def test_a_moderator_closes_a_market(slash, market, moderator) -> None:
    interaction = slash(moderator)
    run(market_close_command(interaction, market=str(market.pk)))
    market.refresh_from_db()
    assert market.status == "closed"
    assert f"Market #{market.pk} is closed" in interaction.last.text
    assert AuditLogEntry.objects.filter(action="market.close", actor=f"discord:{moderator.id}")


def test_a_member_cannot_close_a_market(slash, guild, market, bob) -> None:
    member_for(bob, guild)
    before = state()
    interaction = slash(bob)
    run(market_close_command(interaction, market=str(market.pk)))
    assert "Only moderators" in interaction.last.text and interaction.last.ephemeral
    assert state() == before


def test_the_creator_may_cancel_while_nobody_else_traded(slash, market, alice) -> None:
    interaction = slash(alice)
    run(own_market_cancel_command(interaction, market=str(market.pk)))
    market.refresh_from_db()
    assert market.status in {"cancelled", "refunded"}
    assert "is cancelled" in interaction.last.text


def test_another_member_cannot_cancel(slash, guild, market, bob) -> None:
    member_for(bob, guild)
    before = state()
    interaction = slash(bob)
    run(own_market_cancel_command(interaction, market=str(market.pk)))
    assert "Only moderators or the market's creator" in interaction.last.text
    assert state() == before


def test_moderate_cancel_is_for_moderators_even_on_the_creators_market(
    slash, market, alice
) -> None:
    before = state()
    interaction = slash(alice)
    run(market_cancel_command(interaction, market=str(market.pk)))
    assert "Only moderators" in interaction.last.text and interaction.last.ephemeral
    assert state() == before


def test_a_moderator_cancels_with_moderate_cancel(slash, market, moderator) -> None:
    interaction = slash(moderator)
    run(market_cancel_command(interaction, market=str(market.pk)))
    market.refresh_from_db()
    assert market.status in {"cancelled", "refunded"}
    assert "is cancelled" in interaction.last.text

"""/moderate correct: moderators vote a decided market to another result, and everyone sees it."""

from __future__ import annotations

import pytest

from betting.settlement import settle_resolved_market
from botrunner.announcements import build_announcement
from botrunner.cogs.moderation import market_correct_command, resolve_command
from botrunner.embeds import market_embed
from botrunner.reads import market_card
from markets.models import Market, MarketCorrection, MarketStatus
from markets.services import market_close
from predictmarket.models import AuditLogEntry, OutboxEvent
from tests.botrunner.conftest import member_for, run
from tests.botrunner.helpers import state

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def resolved_yes(market: Market, slash, moderator, second_moderator) -> Market:
    market_close(market_id=market.pk, actor="test")
    for user in (moderator, second_moderator):
        run(resolve_command(slash(user), market=str(market.pk), outcome="Yes"))
    settle_resolved_market(market_id=market.pk)
    market.refresh_from_db()
    assert market.status == MarketStatus.RESOLVED and market.settled_at is not None
    return market


def _correct(slash, user, market: Market, outcome: str):
    interaction = slash(user)
    run(market_correct_command(interaction, market=str(market.pk), outcome=outcome))
    return interaction


def test_two_moderators_correct_a_resolved_market_and_the_card_shows_its_history(
    slash, guild, resolved_yes, moderator, second_moderator
) -> None:
    member_for(moderator, guild)
    member_for(second_moderator, guild)
    first = _correct(slash, moderator, resolved_yes, "No")
    assert "1 of 2 votes" in first.last.text and "correct market" in first.last.text
    resolved_yes.refresh_from_db()
    assert resolved_yes.winning_outcome.label == "Yes"  # one vote decides nothing

    deciding = _correct(slash, second_moderator, resolved_yes, "No")

    assert "corrected market" in deciding.last.text
    resolved_yes.refresh_from_db()
    assert resolved_yes.winning_outcome.label == "No"
    correction = MarketCorrection.objects.get(market=resolved_yes)
    assert correction.voters == sorted(
        [f"discord:{moderator.id}", f"discord:{second_moderator.id}"]
    )
    embed = market_embed(market_card(resolved_yes.pk))
    history = {f.name: f.value for f in embed.fields}["History"]
    assert history.startswith("resolved Yes, corrected to resolved No by ")
    assert moderator.display_name in history and second_moderator.display_name in history
    event = OutboxEvent.objects.get(kind="market.corrected")
    announcement = build_announcement(event.kind, event.payload)
    assert announcement is not None
    assert "corrected to **resolved No**" in announcement.embed.description
    audit = AuditLogEntry.objects.filter(action="market.vote", data__correction=1)
    assert audit.count() == 2


def test_a_member_cannot_correct(slash, guild, resolved_yes, bob) -> None:
    member_for(bob, guild)
    before = state()
    interaction = _correct(slash, bob, resolved_yes, "No")
    assert "Only moderators can do that" in interaction.last.text
    assert state() == before


def test_resolve_on_a_decided_market_points_to_the_correction_command(
    slash, resolved_yes, admin
) -> None:
    interaction = slash(admin)
    run(resolve_command(interaction, market=str(resolved_yes.pk), outcome="No"))
    assert "/moderate correct" in interaction.last.text

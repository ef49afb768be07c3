"""/bet shows a quote with Confirm/Cancel; Confirm places the bet with the quote's min_shares."""

from __future__ import annotations

from decimal import Decimal

import pytest

from betting.services import bet_place, bet_quote
from botrunner.cogs.trading import bet_command
from botrunner.dispatch import dispatch_interaction
from markets.models import Market
from markets.services import market_close
from points.models import Guild
from points.services import member_set_frozen
from tests.botrunner.conftest import member_for, run
from tests.botrunner.fakes import FakeInteraction, FakeUser, component
from tests.botrunner.helpers import balance, state, trades_of

pytestmark = pytest.mark.django_db(transaction=True)


def quote(slash, user: FakeUser, market: Market, *, outcome: str = "1", amount: int = 100):
    interaction = slash(user)
    run(bet_command(interaction, market=str(market.pk), outcome=outcome, amount=amount))
    return interaction


def click(interaction: FakeInteraction, user: FakeUser, label: str = "Confirm") -> FakeInteraction:
    reply = interaction.reply_with_view()
    custom_id = next(i.custom_id for i in reply.view.children if i.label == label)
    clicked = component(user, interaction.guild, custom_id)
    run(dispatch_interaction(clicked))
    return clicked


def test_bet_shows_the_quote_and_charges_nothing_yet(slash, guild, market, bob) -> None:
    member_for(bob, guild)
    before = state()
    interaction = quote(slash, bob, market, amount=100)
    assert interaction.log[0] == "defer"
    reply = interaction.last
    assert reply.ephemeral
    assert "Confirm your bet" in reply.text
    assert "You pay: 100 points" in reply.text
    assert "Shares: " in reply.text and "Average price: " in reply.text
    assert "Payout if it wins: " in reply.text
    assert [item.label for item in reply.view.children] == ["Confirm", "Cancel"]
    assert reply.custom_ids()[0].startswith(f"pm:cfm:{market.pk}:0:100:")
    # The custom id carries the /bet interaction's id: the bet's idempotency key.
    assert reply.custom_ids()[0].endswith(f":{interaction.id}")
    assert state() == before


def test_confirm_places_the_bet_and_says_so(slash, guild, market, bob) -> None:
    member_for(bob, guild)
    start = balance(bob)
    interaction = quote(slash, bob, market, amount=100)
    quoted = Decimal(interaction.last.custom_ids()[0].split(":")[5])
    confirm = click(interaction, bob)
    assert confirm.log[0] == "defer"
    [trade] = trades_of(bob)
    assert trade.points == 100 and trade.shares == quoted
    assert trade.idempotency_key == f"discord:{interaction.id}"
    assert balance(bob) == start - 100
    assert confirm.last.how == "edit_original"
    assert "Bought" in confirm.last.text and "for 100 points" in confirm.last.text
    assert f"Your balance: {start - 100:,} points" in confirm.last.text
    assert confirm.last.kwargs["view"] is None  # the buttons are gone


def test_confirm_clicked_twice_places_one_bet(slash, guild, market, bob) -> None:
    member_for(bob, guild)
    start = balance(bob)
    interaction = quote(slash, bob, market, amount=100)
    first = click(interaction, bob)
    second = click(interaction, bob)  # a second interaction id, the same Confirm button
    assert first.id != second.id
    assert len(trades_of(bob)) == 1
    assert balance(bob) == start - 100
    assert "already done" in second.last.text


def test_cancel_places_nothing(slash, guild, market, bob) -> None:
    member_for(bob, guild)
    interaction = quote(slash, bob, market)
    before = state()
    cancelled = click(interaction, bob, "Cancel")
    assert cancelled.log == ["edit_message"]
    assert "cancelled" in cancelled.last.text
    assert state() == before


def test_a_price_that_moved_refuses_the_bet(slash, guild, market, alice, bob) -> None:
    member_for(bob, guild)
    interaction = quote(slash, bob, market, outcome="1", amount=100)
    bet_place(
        member=member_for(alice, guild),
        market_id=market.pk,
        outcome_index=0,
        amount=300,
        idempotency_key="moved-the-price",
        bypass_rate_limit=True,
    )
    before = state()
    confirm = click(interaction, bob)
    assert "The price moved" in confirm.last.text
    assert state() == before


def test_a_price_that_moved_replaces_the_quote_with_a_fresh_one(
    slash, guild, market, alice, bob
) -> None:
    member_for(bob, guild)
    interaction = quote(slash, bob, market, outcome="1", amount=100)
    bet_place(
        member=member_for(alice, guild),
        market_id=market.pk,
        outcome_index=0,
        amount=300,
        idempotency_key="moved-it-again",
        bypass_rate_limit=True,
    )
    confirm = click(interaction, bob)

    # The quote's own message is edited in place: no second message, no stale button.
    assert confirm.last.how == "edit_original"
    assert confirm.last.embed.title == "Confirm your bet"
    _, action, market_id, index, amount, floor, origin = confirm.last.custom_ids()[0].split(":")
    fresh = bet_quote(market_id=market.pk, outcome_index=0, amount=100)
    assert (action, int(market_id), int(index), int(amount)) == ("cfm", market.pk, 0, 100)
    assert Decimal(floor) == fresh.shares
    assert int(origin) == confirm.id  # a new key: the refused attempt's is never reused

    placed = click(confirm, bob)
    [trade] = trades_of(bob)
    assert "Bought" in placed.last.text and trade.shares == fresh.shares
    assert trade.idempotency_key == f"discord:{confirm.id}"


def test_not_enough_points_is_refused_on_confirm(slash, guild, market, bob) -> None:
    member_for(bob, guild)
    interaction = quote(slash, bob, market, amount=5000)
    before = state()
    confirm = click(interaction, bob)
    assert confirm.last.ephemeral
    assert "Not enough points" in confirm.last.text
    assert state() == before


def test_a_frozen_member_cannot_confirm(slash, guild, market, bob) -> None:
    member = member_for(bob, guild)
    interaction = quote(slash, bob, market)
    member_set_frozen(member=member, frozen=True, reason="test", actor="test")
    before = state()
    confirm = click(interaction, bob)
    assert confirm.last.ephemeral
    assert "frozen" in confirm.last.text
    assert state() == before


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("closed", "Betting is over"),
        ("unknown", "does not exist in this server"),
        ("too small", "The smallest bet is 10 points"),
        ("no such answer", "This market has no answer 7: choose 1 to 2, or type the answer."),
    ],
)
def test_refused_quotes_say_why_privately(slash, guild, market, bob, case, message) -> None:
    member_for(bob, guild)
    Guild.objects.filter(pk=guild.pk).update(min_bet=10)
    market_id, outcome, amount = str(market.pk), "1", 100
    if case == "closed":
        market_close(market_id=market.pk, actor="test")
    elif case == "unknown":
        market_id = "999999"
    elif case == "too small":
        amount = 5
    else:
        outcome = "7"
    before = state()
    interaction = slash(bob)
    run(bet_command(interaction, market=market_id, outcome=outcome, amount=amount))
    assert interaction.log[0] == "defer"
    assert interaction.response.deferred == {"ephemeral": True, "with_message": True}
    assert interaction.last.ephemeral
    assert message in interaction.last.text
    assert interaction.last.view is None
    assert state() == before


def test_a_market_of_another_server_is_not_found(slash, guild, market, bob) -> None:
    from tests.botrunner.fakes import FakeGuild

    other = FakeInteraction(user=bob, guild=FakeGuild(id=760_000_000_000_000_999, name="other"))
    run(bet_command(other, market=str(market.pk), outcome="1", amount=100))
    assert "does not exist in this server" in other.last.text
    assert other.last.ephemeral

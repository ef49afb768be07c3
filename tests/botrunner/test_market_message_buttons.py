"""The market message's buttons: Buy, answer, amount, quote, Confirm; Sell; My position; Refresh.

Each step is a new interaction carrying only its custom id, as after a restart.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from betting.models import Position
from botrunner.dispatch import dispatch_interaction
from markets.models import Market
from markets.services import market_close
from tests.botrunner.conftest import member_for, run
from tests.botrunner.fakes import FakeGuild, FakeUser, component, modal_submit
from tests.botrunner.helpers import balance, state, trades_of

pytestmark = pytest.mark.django_db(transaction=True)


def press(user: FakeUser, guild: FakeGuild, custom_id: str, **kwargs):
    interaction = component(user, guild, custom_id, **kwargs)
    run(dispatch_interaction(interaction))
    return interaction


def submit(user: FakeUser, guild: FakeGuild, custom_id: str, values: dict[str, str]):
    interaction = modal_submit(user, guild, custom_id, values)
    run(dispatch_interaction(interaction))
    return interaction


def buy(user: FakeUser, guild: FakeGuild, market: Market, outcome: int, amount: str):
    picker = press(user, guild, f"pm:buy:{market.pk}")
    select_id = picker.last.custom_ids()[0]
    chosen = press(user, guild, select_id, values=[str(outcome)])
    amount_form = submit(user, guild, chosen.modal.custom_id, {"amount": amount})
    return picker, chosen, amount_form


def test_buy_walks_through_answer_amount_quote_and_confirm(
    guild, discord_guild, market, bob
) -> None:
    member_for(bob, guild)
    start = balance(bob)
    picker, chosen, amount_form = buy(bob, discord_guild, market, 1, "150")
    assert picker.log[0] == "defer" and picker.last.ephemeral
    select = picker.last.view.children[0]
    assert [o.label for o in select.options] == ["Yes", "No"]
    assert chosen.log == ["send_modal"]  # the amount form is the answer: nothing before it
    assert chosen.modal.custom_id == f"pm:buyamt:{market.pk}:1"
    assert amount_form.log[0] == "defer"
    assert "You pay: 150 points" in amount_form.last.text
    confirm_id = amount_form.last.custom_ids()[0]
    assert confirm_id.endswith(f":{amount_form.id}")  # the modal submit's id is the key
    done = press(bob, discord_guild, confirm_id)
    [trade] = trades_of(bob)
    assert (trade.outcome.index, trade.points) == (1, 150)
    assert balance(bob) == start - 150
    assert "Bought" in done.last.text


def test_buy_on_a_closed_market_says_betting_is_over(
    guild, discord_guild, market, bob, django_capture_on_commit_callbacks
) -> None:
    # Through the service, committed: the cached market snapshot follows the close.
    with django_capture_on_commit_callbacks(execute=True):
        market_close(market_id=market.pk, actor="system")
    picker = press(bob, discord_guild, f"pm:buy:{market.pk}")
    assert picker.last.ephemeral
    assert "Betting is over" in picker.last.text


def test_an_amount_that_is_not_a_number_is_refused(guild, discord_guild, market, bob) -> None:
    member_for(bob, guild)
    before = state()
    form = submit(bob, discord_guild, f"pm:buyamt:{market.pk}:0", {"amount": "lots"})
    assert form.last.ephemeral
    assert "whole number of points" in form.last.text
    assert state() == before


def test_sell_button_quotes_the_shares_typed_and_confirm_sells_them_once(
    guild, discord_guild, market, bob
) -> None:
    member_for(bob, guild)
    done = press(bob, discord_guild, trades_confirm_id(bob, discord_guild, market))
    assert "Bought" in done.last.text
    held = Position.objects.get(member__discord_id=bob.id).shares
    start = balance(bob)
    picker = press(bob, discord_guild, f"pm:sell:{market.pk}")
    select = picker.last.view.children[0]
    assert [o.label for o in select.options] == ["Yes"]
    chosen = press(bob, discord_guild, select.custom_id, values=["0"])
    assert chosen.modal.custom_id == f"pm:sellamt:{market.pk}:0"
    quoted = submit(bob, discord_guild, chosen.modal.custom_id, {"shares": "all"})
    assert "Confirm your sale" in quoted.last.text and quoted.last.ephemeral
    assert "**Yes**" in quoted.last.text
    assert Position.objects.get(member__discord_id=bob.id).shares == held  # nothing sold yet
    confirm_id = quoted.last.custom_ids()[0]
    assert confirm_id.endswith(f":{quoted.id}")  # the modal submit's id is the key
    sold = press(bob, discord_guild, confirm_id)
    again = press(bob, discord_guild, confirm_id)  # a second click sells nothing more
    assert "Sold" in sold.last.text and "Yes" in sold.last.text
    assert "already done" in again.last.text
    assert Position.objects.get(member__discord_id=bob.id).shares == Decimal(0)
    assert len([t for t in trades_of(bob) if t.side == "sell"]) == 1
    assert balance(bob) > start
    assert trades_of(bob)[-1].shares == held


def trades_confirm_id(user: FakeUser, guild: FakeGuild, market: Market) -> str:
    _, _, amount_form = buy(user, guild, market, 0, "200")
    return amount_form.last.custom_ids()[0]


def test_sell_without_shares_says_so(guild, discord_guild, market, bob) -> None:
    member_for(bob, guild)
    picker = press(bob, discord_guild, f"pm:sell:{market.pk}")
    assert picker.last.ephemeral
    assert "You hold no shares in this market" in picker.last.text


def test_my_position_shows_the_members_shares(guild, discord_guild, market, bob) -> None:
    member_for(bob, guild)
    press(bob, discord_guild, trades_confirm_id(bob, discord_guild, market))
    shown = press(bob, discord_guild, f"pm:pos:{market.pk}")
    assert shown.last.ephemeral
    assert "Your position" in shown.last.text
    assert "Yes:" in shown.last.text and "spent 200" in shown.last.text


def test_refresh_edits_the_message_in_place_with_a_new_chart(
    guild, discord_guild, market, bob
) -> None:
    refreshed = press(bob, discord_guild, f"pm:ref:{market.pk}")
    assert refreshed.log == ["defer", "edit_original"]
    edit = refreshed.last
    assert edit.embed.title.startswith("Will the server reach")
    assert edit.kwargs["attachments"] == []  # the old chart is replaced, not kept
    [chart] = edit.kwargs["files"]
    assert chart.filename == f"market-{market.pk}.png"
    assert [item.label for item in edit.view.children] == ["Buy", "Sell", "My position", "Refresh"]


def test_an_unknown_button_is_answered_not_ignored(discord_guild, bob) -> None:
    pressed = press(bob, discord_guild, "pm:gone:1")
    assert pressed.last.ephemeral and "out of date" in pressed.last.text


def test_components_of_other_bots_are_left_alone(discord_guild, bob) -> None:
    pressed = press(bob, discord_guild, "someone-else:1")
    assert pressed.log == []

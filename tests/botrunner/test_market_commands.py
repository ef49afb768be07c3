"""/market create (a form) and /market show (the live message); /market list has its own file."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from botrunner.cogs.markets import market_create_start, market_show_command
from botrunner.dispatch import dispatch_interaction
from markets.models import Market, Outcome
from tests.botrunner.conftest import member_for, run
from tests.botrunner.fakes import FakeInteraction, modal_submit
from tests.botrunner.helpers import state

pytestmark = pytest.mark.django_db(transaction=True)

FORM = {
    "question": "Who wins the **final**?",
    "options": "Red team\n\nBlue team\n",
    "duration": "1d12h",
    "category": "games",
}


def test_create_opens_the_form_at_once(slash, alice) -> None:
    interaction = slash(alice)
    run(market_create_start(interaction))
    assert interaction.log == ["send_modal"]
    modal = interaction.modal
    assert modal.custom_id == "pm:create"
    assert [c.custom_id for c in modal.children] == ["question", "options", "duration", "category"]


def test_submitting_the_form_creates_and_posts_the_market(guild, discord_guild, alice) -> None:
    form = modal_submit(alice, discord_guild, "pm:create", FORM)
    run(dispatch_interaction(form))
    market = Market.objects.get()
    assert market.question == "Who wins the **final**?"
    assert list(Outcome.objects.order_by("index").values_list("label", flat=True)) == [
        "Red team",
        "Blue team",
    ]
    assert market.category == "games"
    assert abs(market.closes_at - timezone.now() - timedelta(days=1, hours=12)) < timedelta(
        minutes=1
    )
    assert market.idempotency_key == f"discord:{form.id}"
    assert form.log == ["defer", "edit_original", "followup"]
    assert f"Market #{market.pk} is open" in form.replies[0].text
    public = form.last
    assert not public.ephemeral
    assert public.embed.title == r"Who wins the \*\*final\*\*?"
    assert public.kwargs["file"].filename == f"market-{market.pk}.png"
    # The posted message is the market's live message from now on.
    assert market.discord_channel_id == form.channel_id
    assert market.discord_message_id is not None


def test_the_same_form_submitted_twice_creates_one_market(guild, discord_guild, alice) -> None:
    form = modal_submit(alice, discord_guild, "pm:create", FORM)
    run(dispatch_interaction(form))
    again = modal_submit(alice, discord_guild, "pm:create", FORM, id=form.id)
    run(dispatch_interaction(again))
    assert Market.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("duration", "31d", "at most 30 days"),
        ("duration", "soon", "could not read the duration"),
        ("options", "Yes\nyes", "repeats answer 1"),
        ("options", "Only", "at least 2 answers"),
        ("question", "   ", "The question cannot be empty"),
    ],
)
def test_a_bad_form_is_refused_privately_and_creates_nothing(
    guild, discord_guild, alice, field, value, message
) -> None:
    member_for(alice, guild)
    before = state()
    form = modal_submit(alice, discord_guild, "pm:create", {**FORM, field: value})
    run(dispatch_interaction(form))
    assert form.log == ["defer", "followup"]
    assert form.last.ephemeral
    assert message in form.last.text
    assert state() == before


def test_creation_is_limited_per_guild_and_moderators_bypass_it(
    guild, discord_guild, alice, moderator
) -> None:
    from django.test import override_settings

    with override_settings(RATE_LIMIT_MARKET_CREATIONS_PER_HOUR=1):
        run(dispatch_interaction(modal_submit(alice, discord_guild, "pm:create", FORM)))
        second = modal_submit(alice, discord_guild, "pm:create", FORM)
        run(dispatch_interaction(second))
        assert re.search(r"Try again <t:\d+:R>", second.last.text) and second.last.ephemeral
        by_moderator = modal_submit(moderator, discord_guild, "pm:create", FORM)
        run(dispatch_interaction(by_moderator))
    assert Market.objects.count() == 2


def test_show_posts_the_market_and_makes_it_the_live_message(slash, market, alice) -> None:
    interaction = slash(alice, channel_id=880_000_000_000_000_042)
    run(market_show_command(interaction, market=f"#{market.pk} Will the server…"))
    assert interaction.log[:2] == ["defer", "edit_original"]
    public = interaction.last
    assert not public.ephemeral
    assert "`█████░░░░░` **50.0%** Yes" in public.embed.description
    fields = {f.name: f.value for f in public.embed.fields}
    assert fields["Status"] == "Open" and fields["Category"] == "server"
    assert fields["Closes"].startswith("<t:") and ":R>" in fields["Closes"]
    assert fields["Created by"] == "alice"
    assert [item.custom_id for item in public.view.children] == [
        f"pm:buy:{market.pk}",
        f"pm:sell:{market.pk}",
        f"pm:pos:{market.pk}",
        f"pm:ref:{market.pk}",
    ]
    market.refresh_from_db()
    assert market.discord_channel_id == 880_000_000_000_000_042


def test_show_of_an_unknown_market_is_a_private_error(slash, guild, alice) -> None:
    interaction: FakeInteraction = slash(alice)
    run(market_show_command(interaction, market="424242"))
    assert interaction.last.ephemeral
    assert "does not exist in this server" in interaction.last.text
    assert len(interaction.replies) == 1

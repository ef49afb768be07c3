"""``/market create`` answers with its form; submitting it opens the market and posts it.

The modal is checked as the member's Discord client would draw it (its text
inputs, their limits and which are required); the submit goes back to the same
bot process, which creates the Market row with what was typed and posts the
market publicly with its chart. A form with a bad duration is refused and
creates nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from markets.models import Market
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas
from tests.botrunner.e2e.flows import EPHEMERAL
from tests.discord_emulator import DiscordEmulator, GuildSetup, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

PARAGRAPH, SHORT = 2, 1


def text_inputs(modal: dict) -> dict[str, dict]:
    return {c["custom_id"]: c for row in modal["components"] for c in row["components"]}


def required(text_input: dict) -> bool:
    return text_input.get("required", True)  # Discord's default when the field is left out


def test_market_create_shows_the_form_with_its_fields(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas
) -> None:
    asked = emulator.slash(people.alice, "market create")

    callback = emulator.wait_for_callback(asked)

    assert callback.type == 9  # MODAL: the form is the first response
    modal = callback.data
    assert modal["title"] == "New market"
    fields = text_inputs(modal)
    assert list(fields) == ["question", "options", "duration", "category"]
    assert [int(f["type"]) for f in fields.values()] == [4, 4, 4, 4]  # text inputs
    question, options, duration, category = fields.values()
    assert (question["style"], question["min_length"], question["max_length"]) == (
        PARAGRAPH,
        1,
        500,
    )
    assert required(question)
    assert options["style"] == PARAGRAPH and required(options)
    assert "one per line" in options["label"]
    assert duration["style"] == SHORT and required(duration)
    assert not required(category) and category["max_length"] == 50
    assert not Market.objects.exists()  # showing the form creates nothing


def test_submitting_the_form_creates_the_market_and_posts_it(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas, discord_guild: GuildSetup
) -> None:
    asked = emulator.slash(people.alice, "market create")
    before = timezone.now()

    submitted = emulator.submit(
        people.alice,
        asked,
        {
            "question": "Which colour wins the vote?",
            "options": "Red\n\n  Blue  \nGreen",
            "duration": "1d12h",
            "category": "server",
        },
    )

    note = emulator.wait_for_reply(submitted, contains="is open", timeout=45)
    market = Market.objects.get()
    assert market.question == "Which colour wins the vote?"
    assert [o.label for o in market.outcomes.order_by("index")] == ["Red", "Blue", "Green"]
    assert market.category == "server"
    assert market.creator.discord_id == people.alice.user_id
    assert market.guild_id == discord_guild.guild_id
    opened_for = market.closes_at - before
    assert timedelta(days=1, hours=12) - timedelta(seconds=5) <= opened_for
    assert opened_for <= timedelta(days=1, hours=12) + timedelta(seconds=5)

    assert int(note["flags"]) & EPHEMERAL
    assert f"Market #{market.pk} is open" in note["content"]
    posted = emulator.wait_for(
        lambda: [
            emulator.messages[i]
            for i in submitted.followup_ids
            if not int(emulator.messages[i]["flags"]) & EPHEMERAL
        ],
        timeout=45,
        what="the public market message",
    )[0]
    text = message_text(posted)
    assert "Which colour wins the vote?" in text
    for label in ("Red", "Blue", "Green"):
        assert label in text
    [chart] = posted["attachments"]
    assert (chart["filename"], chart["content_type"]) == (f"market-{market.pk}.png", "image/png")
    assert chart["size"] > 1000
    emulator.wait_for(
        lambda: Market.objects.filter(pk=market.pk, discord_message_id=int(posted["id"])).exists(),
        what="the market to record its live message",
    )


def test_a_form_with_a_bad_duration_is_refused_and_creates_nothing(
    emulator: DiscordEmulator, bot: BotProcess, people: Personas
) -> None:
    asked = emulator.slash(people.bob, "market create")

    submitted = emulator.submit(
        people.bob,
        asked,
        {"question": "Too long?", "options": "Yes\nNo", "duration": "forever", "category": ""},
    )

    refused = emulator.wait_for_reply(submitted, contains="duration")
    assert int(refused["flags"]) & EPHEMERAL
    assert "'forever'" in refused["content"]
    assert not Market.objects.exists()

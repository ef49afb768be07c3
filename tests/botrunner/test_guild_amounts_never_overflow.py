"""/config cannot store an amount past MAX_AMOUNT, so /balance and /daily keep working.

Before guild amounts were bounded, ``/config set`` accepted up to 2^53 (all a
Discord client sends): with a starting balance or daily amount that large,
a thousand members or claims take the house's BIGINT balance past its limit,
and every command after that answers "Something went wrong" with an error id.
"""

from __future__ import annotations

import asyncio

import pytest

from botrunner.bot import PredictBot
from botrunner.cogs.config import config_set_command
from botrunner.cogs.points import balance_command, daily_command
from points.amounts import MAX_AMOUNT
from points.models import Guild
from tests.botrunner.conftest import persona, run

pytestmark = pytest.mark.django_db(transaction=True)

TWO_TO_THE_53 = 2**53  # the largest integer option a Discord client sends


@pytest.mark.parametrize(
    ("setting", "command"),
    [("starting_balance", balance_command), ("daily_amount", daily_command)],
)
def test_a_huge_amount_is_refused_and_members_are_still_served(
    slash, guild: Guild, admin, setting, command
) -> None:
    config = slash(admin)
    run(config_set_command(config, **{setting: TWO_TO_THE_53}))
    assert "At most 1,000,000,000,000 points." in config.last.text
    guild.refresh_from_db()
    assert getattr(guild, setting) <= MAX_AMOUNT

    for name in ("first", "second", "third"):
        interaction = slash(persona(name))
        run(command(interaction))
        assert "Something went wrong" not in interaction.last.text, interaction.last.text


def test_config_set_tells_discord_the_largest_amounts() -> None:
    """Discord's own client then refuses a larger number before it is sent."""

    async def options() -> dict[str, dict[str, object]]:
        bot = PredictBot(run_outbox=False)
        try:
            [config] = [c for c in bot.get_all_application_commands() if c.name == "config"]
            payload = config.get_payload(None)
        finally:
            await bot.close()
        [set_] = [o for o in payload["options"] if o["name"] == "set"]
        return {o["name"]: o for o in set_["options"]}

    declared = asyncio.run(options())
    for name in ("starting_balance", "daily_amount", "min_bet", "max_bet", "default_liquidity"):
        assert declared[name].get("max_value") == MAX_AMOUNT, name

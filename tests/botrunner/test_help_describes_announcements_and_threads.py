"""/help tells members about announcements and market threads, and still fits Discord's limits."""

from __future__ import annotations

import pytest

from botrunner.cogs.help import help_command
from tests.botrunner.conftest import run

pytestmark = pytest.mark.django_db(transaction=True)


def test_help_describes_announcements_and_threads(slash, guild, alice) -> None:
    interaction = slash(alice)
    run(help_command(interaction))
    embed = interaction.last.embed
    rows = {field.name: field.value for field in embed.fields}
    text = rows["Announcements and threads"]
    for setting in ("announce_new_markets", "closing_soon_minutes", "market_threads"):
        assert setting in text
    assert "live message" in text and "thread" in text
    assert all(len(value) <= 1024 for value in rows.values())
    assert len(embed) <= 6000 and len(embed.fields) <= 25

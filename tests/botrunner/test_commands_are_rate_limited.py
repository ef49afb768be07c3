"""Members are limited per minute, and so is the whole guild; moderators are not."""

from __future__ import annotations

import re
import time

import pytest
import time_machine
from django.test import override_settings

from botrunner.cogs.points import balance_command
from tests.botrunner.conftest import run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _early_in_a_window():
    """The limits count per fixed minute: start each test 1 s into the next one.

    Otherwise calls that straddle a minute's end land in two windows (a slow
    machine made the guild test's third call a first one).
    """
    with time_machine.travel(int(time.time() // 60) * 60 + 61, tick=True):
        yield


def _balance(slash, user):
    interaction = slash(user)
    run(balance_command(interaction))
    return interaction


def test_a_member_past_the_limit_is_told_when_to_retry(slash, guild, alice) -> None:
    with override_settings(RATE_LIMIT_COMMANDS_PER_MINUTE=3):
        answers = [_balance(slash, alice) for _ in range(4)]
    assert all("Your balance" in a.last.text for a in answers[:3])
    refused = answers[3].last
    assert refused.ephemeral
    assert "at most 3 commands per minute" in refused.text
    # A Discord timestamp: each reader sees the wait count down ("in 37 seconds").
    assert re.search(r"Try again <t:\d+:R>\.$", refused.text), refused.text


def test_the_guild_limit_counts_every_member(slash, guild, alice, bob) -> None:
    with override_settings(RATE_LIMIT_GUILD_COMMANDS_PER_MINUTE=2):
        _balance(slash, alice)
        _balance(slash, bob)
        refused = _balance(slash, bob).last
    assert "commands in this server" in refused.text
    assert re.search(r"Try again <t:\d+:R>\.$", refused.text), refused.text


def test_moderators_are_not_limited(slash, guild, moderator, admin) -> None:
    with override_settings(
        RATE_LIMIT_COMMANDS_PER_MINUTE=1, RATE_LIMIT_GUILD_COMMANDS_PER_MINUTE=1
    ):
        answers = [_balance(slash, user) for user in (moderator, admin) * 3]
    assert all("Your balance" in a.last.text for a in answers)

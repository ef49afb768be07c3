"""A bug shows the member a short error id; the same id is in the log and goes to Sentry."""

from __future__ import annotations

import logging
import re

import pytest
import sentry_sdk

from botrunner.cogs import points as points_cog
from botrunner.cogs.points import balance_command
from botrunner.metrics import COMMANDS, ERRORS
from tests.botrunner.conftest import run

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_unexpected_error_is_reported_with_an_id(
    slash, guild, alice, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(member: object) -> int:
        raise RuntimeError("the database caught fire")

    captured: list[BaseException] = []
    monkeypatch.setattr(points_cog, "member_display_balance", broken)
    monkeypatch.setattr(sentry_sdk, "capture_exception", lambda exc=None: captured.append(exc))
    before = COMMANDS.labels("balance", "unexpected")._value.get()
    interaction = slash(alice)
    with caplog.at_level(logging.ERROR, logger="botrunner.errors"):
        run(balance_command(interaction))
    reply = interaction.last
    assert reply.ephemeral
    match = re.search(r"Error id: `([0-9a-f]{8})`", reply.text)
    assert match, reply.text
    assert "fire" not in reply.text  # the member never sees internals
    [record] = caplog.records
    assert match.group(1) in record.getMessage()
    assert record.exc_info and "the database caught fire" in str(record.exc_info[1])
    assert [str(exc) for exc in captured] == ["the database caught fire"]
    assert COMMANDS.labels("balance", "unexpected")._value.get() == before + 1


def test_a_domain_error_shows_its_own_message_and_is_counted_by_code(slash, guild, alice) -> None:
    before = ERRORS.labels("daily_not_ready")._value.get()
    run(points_cog.daily_command(slash(alice)))
    second = slash(alice)
    run(points_cog.daily_command(second))
    assert second.last.text.startswith("⚠️ You already claimed your daily points")
    assert ERRORS.labels("daily_not_ready")._value.get() == before + 1


def test_commands_are_counted_and_timed(slash, guild, alice) -> None:
    from prometheus_client import REGISTRY

    def timed() -> float:
        value = REGISTRY.get_sample_value(
            "predictmarket_bot_command_seconds_count", {"command": "balance"}
        )
        return value or 0.0

    ok_before, timed_before = COMMANDS.labels("balance", "ok")._value.get(), timed()
    run(balance_command(slash(alice)))
    assert COMMANDS.labels("balance", "ok")._value.get() == ok_before + 1
    assert timed() == timed_before + 1


def test_a_database_outage_asks_the_member_to_try_again_not_an_error_id(
    slash, guild, alice, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    def outage(member: object) -> int:
        raise OperationalError("server closed the connection unexpectedly")

    captured: list[BaseException] = []
    monkeypatch.setattr(points_cog, "member_display_balance", outage)
    monkeypatch.setattr(sentry_sdk, "capture_exception", lambda exc=None: captured.append(exc))
    before = ERRORS.labels("service_unavailable")._value.get()
    interaction = slash(alice)
    run(balance_command(interaction))
    reply = interaction.last
    assert reply.ephemeral
    assert "briefly unavailable" in reply.text and "Error id" not in reply.text
    assert captured == []  # an outage of our own servers is not a bug report
    assert ERRORS.labels("service_unavailable")._value.get() == before + 1

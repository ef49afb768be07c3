"""Tracing on: one interaction is one trace, its span the root and its database work inside."""

from __future__ import annotations

import io
from typing import Any

import pytest
import sentry_sdk
from opentelemetry.trace import SpanKind, StatusCode, format_trace_id

from botrunner.cogs import points as points_cog
from botrunner.cogs.points import balance_command
from botrunner.cogs.trading import bet_command
from markets.models import Market
from points.models import Guild
from tests.botrunner.conftest import member_for, run
from tests.botrunner.fakes import FakeUser
from tests.conftest import json_records

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def descends_from(span: Any, root: Any, by_id: dict[int, Any]) -> bool:
    while span.parent is not None:
        span = by_id[span.parent.span_id]
        if span is root:
            return True
    return False


def test_a_bet_command_is_one_trace_with_its_database_spans(
    slash: Any, guild: Guild, market: Market, bob: FakeUser, spans: Any
) -> None:
    member_for(bob, guild)
    interaction = slash(bob)
    spans.clear()

    run(bet_command(interaction, market=str(market.pk), outcome="1", amount=100))

    assert "Confirm your bet" in interaction.last.text
    finished = spans.get_finished_spans()
    assert len({span.context.trace_id for span in finished}) == 1, [s.name for s in finished]
    [root] = [span for span in finished if span.parent is None]
    assert root.name == "discord.interaction /bet"
    assert root.kind is SpanKind.SERVER
    assert root.attributes["discord.command"] == "bet"
    assert root.attributes["discord.guild.id"] == guild.pk
    assert root.attributes["discord.interaction.id"] == interaction.id
    assert root.attributes["discord.interaction.outcome"] == "ok"
    by_id = {span.context.span_id: span for span in finished}
    database = [span for span in finished if span.attributes.get("db.system") == "postgresql"]
    # Run on the bot's database threads (botrunner.calls), yet children of the interaction.
    assert database and all(descends_from(span, root, by_id) for span in database)


def test_a_refused_interaction_says_why_on_its_span(
    slash: Any, guild: Guild, market: Market, bob: FakeUser, spans: Any
) -> None:
    member_for(bob, guild)
    spans.clear()

    run(bet_command(slash(bob), market=str(market.pk), outcome="7", amount=100))

    [root] = [span for span in spans.get_finished_spans() if span.parent is None]
    assert root.attributes["discord.interaction.outcome"] not in ("ok", "unexpected")
    assert root.status.status_code is not StatusCode.ERROR  # a member's mistake is no fault


def test_two_interactions_are_two_traces(
    slash: Any, guild: Guild, market: Market, bob: FakeUser, spans: Any
) -> None:
    member_for(bob, guild)
    spans.clear()

    run(bet_command(slash(bob), market=str(market.pk), outcome="1", amount=100))
    run(bet_command(slash(bob), market=str(market.pk), outcome="2", amount=50))

    roots = [span for span in spans.get_finished_spans() if span.parent is None]
    assert [root.name for root in roots] == ["discord.interaction /bet"] * 2
    assert len({span.context.trace_id for span in spans.get_finished_spans()}) == 2


def test_an_unexpected_error_is_on_the_span_and_its_log_line_names_the_trace(
    slash: Any,
    guild: Guild,
    alice: FakeUser,
    spans: Any,
    json_log: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(member: object) -> int:
        raise RuntimeError("the database caught fire")

    monkeypatch.setattr(points_cog, "member_display_balance", broken)
    monkeypatch.setattr(sentry_sdk, "capture_exception", lambda exc=None: None)
    spans.clear()

    run(balance_command(slash(alice)))

    [root] = [span for span in spans.get_finished_spans() if span.parent is None]
    assert root.name == "discord.interaction /balance"
    assert root.attributes["discord.interaction.outcome"] == "unexpected"
    assert root.status.status_code is StatusCode.ERROR
    assert [event.name for event in root.events] == ["exception"]
    [logged] = [r for r in json_records(json_log) if r["logger"] == "botrunner.errors"]
    assert logged["trace_id"] == format_trace_id(root.context.trace_id)
    assert logged["request_id"] == f"discord:{root.attributes['discord.interaction.id']}"

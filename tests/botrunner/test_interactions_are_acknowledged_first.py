"""Every interaction is acknowledged before any database work (Discord allows 3 seconds).

Each database round trip of the bot goes through ``botrunner.calls``; the test
records those calls in the same log as the interaction's responses and checks
the acknowledgement comes first, for every command and component.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from botrunner import calls
from botrunner.cogs import config, markets, moderation, points, trading
from botrunner.dispatch import dispatch_interaction
from botrunner.invocation import Invocation
from markets.models import Market
from tests.botrunner.conftest import member_for, run
from tests.botrunner.fakes import FakeGuild, FakeInteraction, FakeUser, component, modal_submit

pytestmark = pytest.mark.django_db(transaction=True)
ACKNOWLEDGEMENTS = {"defer", "send_modal", "send_message", "edit_message"}
# Their first (and only) answer needs no data: a form opens, or the message is edited.
NO_DATABASE = {"/market create", "Buy: answer", "Sell: answer", "Cancel"}

Case = Callable[[FakeUser, FakeGuild, Market, list[str]], tuple[FakeInteraction, Coroutine]]


def slash(handler: Callable[..., Coroutine[Any, Any, Invocation]], **options: Any) -> Case:
    def make(user, guild, market, log):
        interaction = FakeInteraction(user=user, guild=guild, log=log)
        resolved = {
            k: (v.format(m=market.pk) if isinstance(v, str) else v) for k, v in options.items()
        }
        return interaction, handler(interaction, **resolved)

    return make


def click(custom_id: str, values: list[str] | None = None) -> Case:
    def make(user, guild, market, log):
        interaction = component(user, guild, custom_id.format(m=market.pk), values=values, log=log)
        return interaction, dispatch_interaction(interaction)

    return make


def form(custom_id: str, values: dict[str, str]) -> Case:
    def make(user, guild, market, log):
        interaction = modal_submit(user, guild, custom_id.format(m=market.pk), values, log=log)
        return interaction, dispatch_interaction(interaction)

    return make


CASES: dict[str, Case] = {
    "/market create": slash(markets.market_create_start),
    "/market list": slash(markets.market_list_command),
    "/market show": slash(markets.market_show_command, market="{m}"),
    "/market cancel": slash(moderation.own_market_cancel_command, market="{m}"),
    "/moderate close": slash(moderation.market_close_command, market="{m}"),
    "/moderate cancel": slash(moderation.market_cancel_command, market="{m}"),
    "/bet": slash(trading.bet_command, market="{m}", outcome="1", amount=10),
    "/sell": slash(trading.sell_command, market="{m}", outcome="1", shares="all"),
    "/portfolio": slash(trading.portfolio_command),
    "/balance": slash(points.balance_command),
    "/daily": slash(points.daily_command),
    "/tip": slash(points.tip_command, member=FakeUser(777_000_000_000_000_001, "x"), amount=1),
    "/leaderboard": slash(points.leaderboard_command, by="net_worth"),
    "/history": slash(points.history_command),
    "/resolve": slash(moderation.resolve_command, market="{m}", outcome="1"),
    "/points grant": slash(
        moderation.points_grant_command,
        member=FakeUser(777_000_000_000_000_002, "y"),
        amount=5,
        reason="r",
    ),
    "/points freeze": slash(
        moderation.points_freeze_command, member=FakeUser(777_000_000_000_000_003, "z"), reason="r"
    ),
    "/config show": slash(config.config_show_command),
    "/config set": slash(config.config_set_command, fee_bps=10),
    "market create form": form(
        "pm:create", {"question": "Q?", "options": "a\nb", "duration": "1h"}
    ),
    "Buy": click("pm:buy:{m}"),
    "Buy: answer": click("pm:buypick:{m}", values=["0"]),
    "Buy: amount": form("pm:buyamt:{m}:0", {"amount": "10"}),
    "Confirm": click("pm:cfm:{m}:0:10:0:790000000000000001"),
    "Cancel": click("pm:nocfm"),
    "Sell": click("pm:sell:{m}"),
    "Sell: answer": click("pm:sellpick:{m}", values=["0"]),
    "Sell: shares": form("pm:sellamt:{m}:0", {"shares": "all"}),
    "My position": click("pm:pos:{m}"),
    "Refresh": click("pm:ref:{m}"),
    "list page": click("pm:mls:1n:oc:0:"),
    "history page": click("pm:hist:999999999"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_it_acknowledges_before_touching_the_database(
    name: str, monkeypatch: pytest.MonkeyPatch, guild, discord_guild, market, admin
) -> None:
    member_for(admin, guild)
    log: list[str] = []
    real = calls._run_with_fresh_connection

    def recorded(fn, args, kwargs):
        log.append(f"db:{getattr(fn, '__name__', fn)}")
        return real(fn, args, kwargs)

    monkeypatch.setattr(calls, "_run_with_fresh_connection", recorded)
    interaction, coroutine = CASES[name](admin, discord_guild, market, log)
    run(coroutine)
    assert log, "nothing happened"
    assert log[0] in ACKNOWLEDGEMENTS, f"{name}: {log}"
    touched = any(entry.startswith("db:") for entry in log)
    assert touched != (name in NO_DATABASE), f"{name}: {log}"
    assert interaction.replies or interaction.modal is not None, f"{name} showed nothing: {log}"

"""The bot under load: concurrent /bet interactions through the real handler and services.

    .venv/bin/python bench/bot.py [--interactions 200]

On PostgreSQL (a scratch database, see ``bench.common.setup_django``), each of
N members sends ``/bet`` at the same moment, then clicks Confirm on the quote
it got — all N at once, on one event loop, through ``botrunner``'s handlers,
its thread pool and the real services. The bets are spread over a few markets
(``--markets``), so members of one market contend for its row lock and some
confirms are refused because another bet moved the price past the quote (the
quote's ``min_shares`` protects them): that refusal is a final reply too, and
is counted separately. The Discord side is a stand-in that answers at once, so
the figures are the bot's own latency, without Discord's round trips:

* time to acknowledgement (the bot sends its ``defer``), p50/p99 over every
  interaction — Discord drops an interaction not acknowledged within 3 s —
  and, as a pessimistic bound, one more turn of the event loop after it;
* time to the final reply of Confirm (the bet placed), p99.

Then a separate process builds the bot with every cog loaded (without
connecting) and reports its resident memory, then again after rendering one
chart (matplotlib is imported on the first chart). The last line is
machine-readable:

    RESULT ack_p50_ms=<…> ack_p99_ms=<…> reply_p99_ms=<…> rss_mb=<…>
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import ROOT, median, percentile, setup_django

GUILD_ID = 900_000_000_000_000_005
USER_BASE = 910_000_000_000_000_000


class Stub:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


class BenchResponse:
    def __init__(self, interaction: BenchInteraction) -> None:
        self.interaction = interaction
        self.done = False

    def is_done(self) -> bool:
        return self.done

    async def defer(self, **kwargs: Any) -> None:
        # Acknowledged when the bot sends the defer: nextcord's webhook adapter
        # and aiohttp write a request on a pooled connection in the same turn
        # of the loop. A pessimistic bound is kept too: one more full turn.
        self.interaction.acknowledged = time.perf_counter()
        self.done = True
        await asyncio.sleep(0)
        self.interaction.turn_later = time.perf_counter()

    async def send_message(self, content: Any = None, **kwargs: Any) -> None:
        self.done = True
        now = time.perf_counter()
        self.interaction.acknowledged = self.interaction.turn_later = now
        self.interaction.replied = now
        self.interaction.texts.append(str(content))


class BenchFollowup:
    def __init__(self, interaction: BenchInteraction) -> None:
        self.interaction = interaction

    async def send(self, content: Any = None, **kwargs: Any) -> Any:
        self.interaction.replied = time.perf_counter()
        self.interaction.view = kwargs.get("view")
        self.interaction.texts.append(str(content))
        return Stub(id=next(BenchInteraction.ids))


class BenchInteraction:
    """Stands in for Discord: answers at once and notes when each answer came."""

    ids = iter(range(920_000_000_000_000_000, 930_000_000_000_000_000))

    def __init__(self, user_id: int, *, type_: int = 2, data: dict | None = None) -> None:
        from nextcord import InteractionType

        self.started = time.perf_counter()
        self.id = next(self.ids)
        self.type = InteractionType(type_)
        self.user = Stub(
            id=user_id,
            display_name=f"user{user_id % 10_000}",
            roles=[],
            guild_permissions=Stub(manage_guild=False, administrator=False),
        )
        self.guild = Stub(id=GUILD_ID, name="bench")
        self.guild_id = GUILD_ID
        self.channel_id = 940_000_000_000_000_001
        self.data = data or {}
        self.message = None
        self.acknowledged: float | None = None
        self.turn_later: float | None = None
        self.replied: float | None = None
        self.view: Any = None
        self.texts: list[str] = []
        self.response = BenchResponse(self)
        self.followup = BenchFollowup(self)

    async def edit_original_message(self, content: Any = None, **kwargs: Any) -> Any:
        self.replied = time.perf_counter()
        self.texts.append(str(content))
        return Stub(id=self.id)


async def storm(market_ids: list[int], users: list[int]) -> dict[str, Any]:
    from botrunner.cogs.trading import bet_command
    from botrunner.dispatch import dispatch_interaction

    async def one(index: int, asked: BenchInteraction) -> tuple[BenchInteraction, BenchInteraction]:
        # nextcord runs every event in a task of its own (Client._schedule_event),
        # so an interaction waits for the loop like this one does.
        market_id = market_ids[index % len(market_ids)]
        await asyncio.create_task(
            bet_command(asked, market=str(market_id), outcome=str(index % 3), amount=10)
        )
        confirm_id = asked.view.children[0].custom_id if asked.view else "pm:none"
        click = BenchInteraction(asked.user.id, type_=3, data={"custom_id": confirm_id})
        await asyncio.create_task(dispatch_interaction(click))
        return asked, click

    # Every /bet arrives at the same moment.
    arrivals = [BenchInteraction(user_id) for user_id in users]
    pairs = await asyncio.gather(*(one(i, a) for i, a in enumerate(arrivals)))
    placed = sum(1 for _, c in pairs if any("Bought" in t for t in c.texts))
    moved = sum(1 for _, c in pairs if any("The price moved" in t for t in c.texts))
    if placed + moved != len(pairs):
        odd = next(
            a.texts + c.texts
            for a, c in pairs
            if not any("Bought" in t or "The price moved" in t for t in c.texts)
        )
        raise SystemExit(f"{len(pairs) - placed - moved} unexpected replies, e.g. {odd}")
    return {
        "acks": [(i.acknowledged - i.started) for pair in pairs for i in pair],
        "turn_later": [(i.turn_later - i.started) for pair in pairs for i in pair],
        "quotes": [(a.replied - a.started) for a, _ in pairs],
        "bets": [(c.replied - c.started) for _, c in pairs],
        "placed": placed,
        "moved": moved,
    }


RSS_CHILD = """
import asyncio, os, sys
sys.path.insert(0, {root!r})
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "predictmarket.settings")
os.environ["DATABASE_URL"] = {url!r}
import django
django.setup()

def rss_mb():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024

async def main():
    from datetime import datetime, timedelta, timezone
    from decimal import Decimal
    from botrunner.bot import PredictBot
    from botrunner.charts import render_chart
    from markets.selectors import PriceHistoryPoint

    bot = PredictBot()
    cogs = rss_mb()
    now = datetime.now(timezone.utc)
    history = [PriceHistoryPoint(now - timedelta(hours=i), [Decimal("0.5"), Decimal("0.5")])
               for i in range(100)]
    await render_chart(history[::-1], ["Yes", "No"])
    commands = len(bot.get_all_application_commands())
    print(f"{{cogs:.1f}} {{rss_mb():.1f}} {{len(bot.cogs)}} {{commands}}")
    await bot.close()

asyncio.run(main())
"""


def bot_rss(url: str) -> tuple[float, float, int, int]:
    result = subprocess.run(
        [sys.executable, "-c", RSS_CHILD.format(root=str(ROOT), url=url)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    cogs, charted, cog_count, commands = result.stdout.split()
    return float(cogs), float(charted), int(cog_count), int(commands)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--interactions", type=int, default=200, help="concurrent /bet users")
    parser.add_argument("--markets", type=int, default=10, help="markets the bets spread over")
    args = parser.parse_args()

    url = setup_django("predictmarket_bench_bot")
    from markets.services import market_create
    from points.models import Guild
    from points.services import guild_ensure, member_ensure

    guild_ensure(guild_id=GUILD_ID, name="bench")
    Guild.objects.filter(pk=GUILD_ID).update(starting_balance=10**6, default_liquidity=100_000)
    users = [USER_BASE + i for i in range(args.interactions)]
    members = [member_ensure(guild_id=GUILD_ID, discord_id=u, display_name=f"u{u}") for u in users]
    market_ids = [
        market_create(
            creator=members[0],
            question=f"Market {n}",
            options=["A", "B", "C"],
            duration=timedelta(days=1),
            actor="bench",
            bypass_rate_limit=True,
        ).pk
        for n in range(args.markets)
    ]
    from django.db import connections

    connections.close_all()
    from botrunner.calls import db_thread_count

    started = time.perf_counter()
    outcome = asyncio.run(storm(market_ids, users))
    elapsed = time.perf_counter() - started
    acks, quotes, bets = outcome["acks"], outcome["quotes"], outcome["bets"]
    ms = 1000
    print(
        f"{args.interactions} concurrent /bet + Confirm over {args.markets} markets "
        f"({db_thread_count()} database threads): {elapsed:.2f} s; "
        f"{outcome['placed']} bets placed, {outcome['moved']} refused (price moved)"
    )
    print(
        f"acknowledgement, all {len(acks)} interactions: p50 {median(acks) * ms:.1f} ms  "
        f"p99 {percentile(acks, 99) * ms:.1f} ms  max {max(acks) * ms:.1f} ms  "
        "(target p99 < 100 ms)"
    )
    later = outcome["turn_later"]
    print(
        f"  pessimistic bound, one more turn of the loop after the defer: "
        f"p50 {median(later) * ms:.1f} ms  p99 {percentile(later, 99) * ms:.1f} ms"
    )
    print(
        f"/bet, quote shown: p50 {median(quotes) * ms:.0f} ms  "
        f"p99 {percentile(quotes, 99) * ms:.0f} ms"
    )
    print(
        f"Confirm, final reply: p50 {median(bets) * ms:.0f} ms  "
        f"p99 {percentile(bets, 99) * ms:.0f} ms"
    )
    cogs_mb, charted_mb, cog_count, commands = bot_rss(url)
    print(
        f"bot process, {cog_count} cogs and {commands} commands loaded, not connected: "
        f"RSS {cogs_mb:.1f} MB (target < 150 MB); after its first chart (matplotlib is "
        f"imported then) {charted_mb:.1f} MB"
    )
    print(
        f"RESULT ack_p50_ms={median(acks) * ms:.1f} ack_p99_ms={percentile(acks, 99) * ms:.1f} "
        f"reply_p99_ms={percentile(bets, 99) * ms:.0f} rss_mb={cogs_mb:.1f}"
    )


if __name__ == "__main__":
    main()

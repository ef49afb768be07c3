"""The real bot under a /bet storm, measured through the Discord emulator.

    .venv/bin/python bench/bot.py [--members 200] [--markets 4] [--warmup 5] [--storms 1]
                                  [--validate]

(with PostgreSQL running; ``BENCH_DATABASE_URL`` names the server, see
``bench.common``, and ``REDIS_URL`` the cache if there is one.) It builds a
scratch database with one guild, ``--members`` members holding points and
``--markets`` open markets; starts the Discord emulator (``tests.discord_emulator``,
the one the e2e tests use) on loopback and a real ``python manage.py runbot``
process against it (``tests.botrunner.e2e.bot_process``), as production runs it
(psycopg pool, rate limits off so the limiter does not answer instead of the bot).
After ``--warmup`` single ``/bet`` commands (a fresh process opens its database
connections on its first commands), every member sends ``/bet`` at once: the
emulator writes all the INTERACTION_CREATE frames on the gateway in one go.

It reports, from the emulator's clock:

* time to acknowledgement: from each INTERACTION_CREATE on the wire to the bot's
  callback POST arriving (p50/p99/max; Discord drops an interaction that is
  not answered within 3 s; target p99 < 100 ms);
* time to the quote: to the first follow-up (the embed with Confirm) arriving;
* the bot process's resident memory after the storm (``VmRSS`` in
  ``/proc/<pid>/status``) and its peak (``VmHWM``); target < 150 MB.

``--storms 2`` sends the storm again once the first is answered: the second
finds the bot's HTTP connections to Discord open (a first storm must open them).
``--validate`` also checks every request body against Discord's OpenAPI
description, as the e2e tests do. It is off by default: the emulator serves
requests one at a time on one event loop, so its jsonschema work on the quotes
would be counted as the bot's latency on the acknowledgements queued behind
them. Either way the emulator's other rules (one initial response, the 3 s
deadline) are kept and their breaches counted. The last line is machine-readable:

    RESULT ack_p99_ms=<…> rss_mb=<…>
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import median, percentile, setup_django

STARTING_BALANCE = 1_000_000
LIQUIDITY = 100_000
STAKE = 10
OPTIONS = ["A", "B", "C"]
MS = 1000


def proc_status_mb(pid: int, field: str) -> float:
    """A memory line of ``/proc/<pid>/status`` (``VmRSS``, ``VmHWM``) in MB."""
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{field}:\s+(\d+) kB", status, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"/proc/{pid}/status has no {field}")
    return int(match.group(1)) / 1024


class NoValidation:
    """Stands in for the emulator's ``DiscordSpec`` when bodies are not checked."""

    def errors(self, method: str, path: str, body: Any) -> list[str]:
        return []


def seed(guild: Any, personas: list[Any], markets: int) -> list[int]:
    """The guild, its members with points, and open markets (through the services)."""
    from markets.services import market_create
    from points.models import Guild
    from points.services import guild_ensure, guild_update_settings, member_ensure

    guild_ensure(guild_id=guild.guild_id, name="bench")
    Guild.objects.filter(pk=guild.guild_id).update(
        starting_balance=STARTING_BALANCE, default_liquidity=LIQUIDITY
    )
    guild_update_settings(
        guild_id=guild.guild_id, actor="bench", moderator_role_id=guild.moderator_role_id
    )
    members = [
        member_ensure(guild_id=guild.guild_id, discord_id=p.user_id, display_name=p.username)
        for p in personas
    ]
    return [
        market_create(
            creator=members[0],
            question=f"Bench market {n}?",
            options=OPTIONS,
            duration=timedelta(days=1),
            actor="bench",
            bypass_rate_limit=True,
        ).pk
        for n in range(markets)
    ]


def burst(emulator: Any, personas: list[Any], market_ids: list[int]) -> list[Any]:
    """Every persona's ``/bet``, all written on the gateway in one go (one coroutine)."""
    from tests.discord_emulator import interactions as ix

    guild = emulator.guild
    command = emulator.command("bet")
    records = []
    for n, persona in enumerate(personas):
        options = {
            "market": str(market_ids[n % len(market_ids)]),
            "outcome": OPTIONS[n % len(OPTIONS)],
            "amount": STAKE,
        }
        payload = ix.interaction_payload(
            application_id=emulator.application_id,
            kind=ix.APPLICATION_COMMAND,
            guild=guild,
            persona=persona,
            data=ix.command_data(command, ["bet"], options, guild),
            channel_id=None,
            message=None,
        )
        record = ix.InteractionRecord(
            id=int(payload["id"]),
            token=payload["token"],
            type=ix.APPLICATION_COMMAND,
            guild_id=guild.guild_id,
            channel_id=int(payload["channel_id"]),
            payload=payload,
        )
        records.append(record)
    with emulator.lock:
        for record in records:
            emulator.interactions[record.id] = record

    async def send_all() -> None:
        for record in records:
            record.sent_at = await emulator.gateway.dispatch(
                guild.guild_id, "INTERACTION_CREATE", record.payload
            )

    emulator.run(send_all(), timeout=60)
    return records


def quote_times(emulator: Any, records: list[Any]) -> dict[int, float]:
    """Seconds from each interaction's frame to its first follow-up or original edit."""
    by_token = {r.token: r for r in records}
    first: dict[int, float] = {}
    with emulator.lock:
        for request in emulator.requests:
            if not request.path.startswith("/webhooks/"):
                continue
            token = request.path.split("/")[3]
            record = by_token.get(token)
            if record is not None and record.id not in first and record.sent_at is not None:
                first[record.id] = request.at - record.sent_at
    return first


def replies_shown(emulator: Any, records: list[Any]) -> tuple[int, list[str]]:
    """How many interactions show a quote, and the text of the others."""
    from tests.discord_emulator import message_text

    quoted, other = 0, []
    with emulator.lock:
        for record in records:
            ids = [i for i in (record.original_id, *record.followup_ids) if i is not None]
            texts = [message_text(emulator.messages[i]) for i in ids if i in emulator.messages]
            if any("Confirm your bet" in t for t in texts):
                quoted += 1
            else:
                other.append(" | ".join(texts).strip() or "(no reply)")
    return quoted, other


def storm_once(
    emulator: Any, personas: list[Any], market_ids: list[int]
) -> tuple[list[Any], float, float]:
    """One storm, until every interaction has its callback and its quote."""
    sent = time.perf_counter()
    records = burst(emulator, personas, market_ids)
    spread = max(r.sent_at for r in records) - min(r.sent_at for r in records)
    wait_until(
        # Callbacks first: scanning the requests holds the emulator's lock.
        lambda: (
            all(r.callback for r in records) and len(quote_times(emulator, records)) == len(records)
        ),
        timeout=120,
        what=f"all {len(records)} interactions to be answered",
    )
    return records, spread, time.perf_counter() - sent


def report_storm(
    emulator: Any, records: list[Any], spread: float, seconds: float, *, markets: int
) -> list[float]:
    acks = [r.callback.after for r in records]
    quotes = list(quote_times(emulator, records).values())
    quoted, other = replies_shown(emulator, records)
    print(
        f"{len(records)} /bet at once over {markets} markets "
        f"(frames written within {spread * MS:.1f} ms): all answered in {seconds:.2f} s; "
        f"{quoted} quotes shown, {len(other)} other replies"
        + (f" (e.g. {other[0][:120]!r})" if other else "")
    )
    print(
        f"acknowledgement (INTERACTION_CREATE → callback POST): min {min(acks) * MS:.1f} ms  "
        f"p50 {median(acks) * MS:.1f} ms  "
        f"p99 {percentile(acks, 99) * MS:.1f} ms  max {max(acks) * MS:.1f} ms  "
        "(target p99 < 100 ms)"
    )
    print(
        f"quote shown (→ first follow-up): p50 {median(quotes) * MS:.0f} ms  "
        f"p99 {percentile(quotes, 99) * MS:.0f} ms  max {max(quotes) * MS:.0f} ms"
    )
    return acks


def wait_until(check: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=200, help="members sending /bet at once")
    parser.add_argument("--markets", type=int, default=4, help="open markets the bets spread over")
    parser.add_argument("--warmup", type=int, default=5, help="single /bet commands first")
    parser.add_argument(
        "--storms",
        type=int,
        default=1,
        help="storms in a row (later ones find the bot's HTTP connections open); RESULT: the last",
    )
    parser.add_argument(
        "--validate", action="store_true", help="check request bodies against Discord's spec"
    )
    args = parser.parse_args()

    setup_django("predictmarket_bench_bot")
    from django.db import connections

    from tests.botrunner.e2e.bot_process import BotProcess
    from tests.discord_emulator import DiscordEmulator, GuildSetup

    class ProductionBot(BotProcess):
        def environment(self) -> dict[str, str]:
            env = super().environment()
            env.pop("DATABASE_POOL", None)  # bench.common turns it off for its forks
            return env

    guild = GuildSetup(name="Bench guild")
    guild.member("bench moderator", moderator=True)
    storm = [guild.member(f"member{n:03d}") for n in range(args.members)]
    warm = [guild.member(f"warmup{n}") for n in range(args.warmup)]
    market_ids = seed(guild, storm + warm, args.markets)
    connections.close_all()

    spec = None if args.validate else NoValidation()
    with tempfile.TemporaryDirectory() as scratch, DiscordEmulator([guild], spec=spec) as emu:
        bot = ProductionBot(emu, Path(scratch) / "runbot.log")
        started = time.perf_counter()
        bot.start()
        assert bot.process is not None
        pid = bot.process.pid
        print(
            f"runbot (pid {pid}) connected and registered in "
            f"{time.perf_counter() - started:.1f} s; RSS {proc_status_mb(pid, 'VmRSS'):.1f} MB"
        )
        try:
            for n, persona in enumerate(warm):
                asked = emu.slash(
                    persona, "bet", market=str(market_ids[0]), outcome=OPTIONS[n % 3], amount=STAKE
                )
                emu.wait_for_reply(asked, contains="Confirm your bet", timeout=60)
            before_storm = proc_status_mb(pid, "VmRSS")

            storms = []
            for _ in range(args.storms):
                storms.append(storm_once(emu, storm, market_ids))
                time.sleep(1.0)  # let the follow-ups settle (and memory with them)
            rss = proc_status_mb(pid, "VmRSS")
            hwm = proc_status_mb(pid, "VmHWM")
        except BaseException:
            print(bot.log_tail(40), file=sys.stderr)
            raise
        finally:
            bot.stop()

    for n, (records, spread, seconds) in enumerate(storms, start=1):
        if args.storms > 1:
            print(f"storm {n} of {args.storms}:")
        acks = report_storm(emu, records, spread, seconds, markets=args.markets)
    print(
        f"bot process memory: RSS {before_storm:.1f} MB before the storm, {rss:.1f} MB after "
        f"(target < 150 MB); peak (VmHWM) {hwm:.1f} MB"
    )
    validated = "validated against Discord's spec" if args.validate else "not validated"
    print(f"Discord rules broken: {len(emu.violations)} (request bodies {validated})")
    for violation in emu.violations[:5]:
        print(f"  {violation}")
    print(f"RESULT ack_p99_ms={percentile(acks, 99) * MS:.1f} rss_mb={rss:.1f}")


if __name__ == "__main__":
    main()

"""Seed a scratch database for a live server: ``python -m tests.api.live_seed``.

Run with ``DATABASE_URL`` pointing at a freshly migrated database. Makes a guild
with public pages, members with trades, markets in every state (ids 1-5 on a
fresh database) and one market of another guild; prints the keys and ids as
JSON on its last line.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta

GUILD_ID = 810_000_000_000_000_001
OTHER_GUILD_ID = 810_000_000_000_000_002
ACTOR = "system:live-seed"
# The guild's moderator role, which the test's fake Discord gives the two moderators.
MODERATOR_ROLE_ID = 815_000_000_000_000_001
MODERATOR_DISCORD_IDS = (820_000_000_000_000_003, 820_000_000_000_000_004)


def seed() -> dict[str, object]:
    from betting.services import bet_place, shares_sell
    from markets.services import market_cancel, market_close, market_create, resolution_vote
    from points.api_tokens import api_token_issue
    from points.models import Guild
    from points.services import guild_ensure, member_ensure

    guild_ensure(guild_id=GUILD_ID, name="Live test guild")
    Guild.objects.filter(pk=GUILD_ID).update(public_pages=True, moderator_role_id=MODERATOR_ROLE_ID)
    alice, bob, carol, mod, mod2 = (
        member_ensure(guild_id=GUILD_ID, discord_id=820_000_000_000_000_000 + i, display_name=name)
        for i, name in enumerate(["alice", "bob", "carol", "mod one", "mod two"])
    )

    def market(creator: object, question: str, options: list[str], **kw: object) -> int:
        return market_create(
            creator=creator,
            question=question,
            options=options,
            duration=kw.pop("duration", timedelta(days=2)),
            actor=ACTOR,
            bypass_rate_limit=True,
            **kw,
        ).pk

    trades = iter(range(1_000_000))

    def bet(member: object, market_id: int, outcome: int, amount: int) -> None:
        bet_place(
            member=member,
            market_id=market_id,
            outcome_index=outcome,
            amount=amount,
            idempotency_key=f"seed:{next(trades)}",
            bypass_rate_limit=True,
        )

    binary = market(bob, "Will the bridge open before June?", ["Yes", "No"], category="town")
    three_way = market(
        alice,
        "Who wins the chess club final?",
        ["Ana", "Ben", "Cleo"],
        category="games",
        description="Best of three games.",
    )
    closed = market(carol, "Snow on Friday?", ["Yes", "No"], category="weather")
    resolved = market(bob, "Does the bake sale raise 500?", ["Yes", "No"])
    cancelled = market(carol, "A market that was a mistake?", ["Yes", "No"])
    for outcome, amount in [(0, 120), (1, 40), (0, 60)]:
        bet(alice, binary, outcome, amount)
        bet(bob, three_way, outcome, amount)
        bet(carol, closed, 1 - outcome, amount)
        bet(carol, resolved, outcome, amount)
    bet(alice, three_way, 2, 90)
    bet(bob, cancelled, 0, 30)
    shares_sell(
        member=bob,
        market_id=three_way,
        outcome_index=0,
        shares="10",
        idempotency_key="seed:sell",
        bypass_rate_limit=True,
    )
    market_close(market_id=closed, actor=ACTOR)
    market_close(market_id=resolved, actor=ACTOR)
    for voter in ("discord:1", "discord:2"):
        resolution_vote(market_id=resolved, voter=voter, outcome_index=0)
    market_cancel(market_id=cancelled, actor=ACTOR, is_moderator=True)

    outsider = member_ensure(guild_id=OTHER_GUILD_ID, discord_id=830_000_000_000_000_000)
    foreign = market(outsider, "A question in another server?", ["Yes", "No"])

    return {
        "guild_id": GUILD_ID,
        "member_key": api_token_issue(member=alice, actor=ACTOR).key,
        "moderator_key": api_token_issue(member=mod, actor=ACTOR, issued_by_moderator=True).key,
        "second_moderator_key": api_token_issue(
            member=mod2, actor=ACTOR, issued_by_moderator=True
        ).key,
        "markets": {
            "open": binary,
            "three_way": three_way,
            "closed": closed,
            "resolved": resolved,
            "cancelled": cancelled,
            "other_guild": foreign,
        },
    }


if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "predictmarket.settings")
    import django

    django.setup()
    print(json.dumps(seed()))

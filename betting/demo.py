"""Demo data for ``make run``: a demo guild with markets in every state (idempotent)."""

from __future__ import annotations

from datetime import timedelta

from betting.services import bet_place, shares_sell
from betting.settlement import settle_resolved_market
from betting.unwind import refund_market
from markets.models import Market
from markets.services import market_close, market_create, resolution_vote
from points.models import Guild
from points.services import member_ensure

DEMO_GUILD_ID = 100_000_000_000_000_001
DEMO_MEMBERS = [
    (100_000_000_000_000_101, "Ada"),
    (100_000_000_000_000_102, "Grace"),
    (100_000_000_000_000_103, "Linus"),
    (100_000_000_000_000_104, "Margaret"),
    (100_000_000_000_000_105, "Ken"),
]
# The demo's two moderators: Discord users, as every voter is a person.
DEMO_MODERATORS = ["discord:100000000000000198", "discord:100000000000000199"]
OPEN_MARKETS = [
    ("Will the community reach 1,000 members by the end of the month?", ["Yes", "No"], "community"),
    ("Which language wins the next game jam?", ["Python", "Rust", "Go", "TypeScript"], "events"),
    ("Will it snow on New Year's Day in Berlin?", ["Yes", "No"], "weather"),
]


def load_demo_data() -> str:
    if Market.objects.filter(idempotency_key__startswith="demo:").exists():
        return "already loaded"
    members = [
        member_ensure(
            guild_id=DEMO_GUILD_ID, discord_id=user_id, display_name=name, guild_name="Demo"
        )
        for user_id, name in DEMO_MEMBERS
    ]
    Guild.objects.filter(pk=DEMO_GUILD_ID).update(public_pages=True, min_resolution_votes=2)
    created = []
    for number, (question, options, category) in enumerate(OPEN_MARKETS):
        market = market_create(
            creator=members[number],
            question=question,
            options=options,
            duration=timedelta(days=3 + number),
            category=category,
            actor="system:demo",
            idempotency_key=f"demo:market:{number}",
            bypass_rate_limit=True,
        )
        created.append(market)
        for i, member in enumerate(members):
            bet_place(
                member=member,
                market_id=market.pk,
                outcome_index=(i + number) % len(options),
                amount=20 + 15 * i,
                idempotency_key=f"demo:bet:{number}:{i}",
                bypass_rate_limit=True,
            )
    shares_sell(
        member=members[0],
        market_id=created[0].pk,
        outcome_index=0,
        shares="all",
        idempotency_key="demo:sell:0",
        bypass_rate_limit=True,
    )

    resolved = market_create(
        creator=members[1],
        question="Will the server event start on time?",
        options=["Yes", "No"],
        duration=timedelta(hours=2),
        category="events",
        actor="system:demo",
        idempotency_key="demo:market:resolved",
        bypass_rate_limit=True,
    )
    for i, member in enumerate(members):
        bet_place(
            member=member,
            market_id=resolved.pk,
            outcome_index=i % 2,
            amount=50,
            idempotency_key=f"demo:bet:resolved:{i}",
            bypass_rate_limit=True,
        )
    market_close(market_id=resolved.pk, actor="system:demo")
    resolution_vote(market_id=resolved.pk, voter=DEMO_MODERATORS[0], outcome_index=0)
    resolution_vote(market_id=resolved.pk, voter=DEMO_MODERATORS[1], outcome_index=0)
    settle_resolved_market(market_id=resolved.pk)

    refunded = market_create(
        creator=members[2],
        question="Will the old forum come back?",
        options=["Yes", "No", "Only read-only"],
        duration=timedelta(hours=1),
        category="community",
        actor="system:demo",
        idempotency_key="demo:market:refunded",
        bypass_rate_limit=True,
    )
    for i, member in enumerate(members[:3]):
        bet_place(
            member=member,
            market_id=refunded.pk,
            outcome_index=i % 3,
            amount=30,
            idempotency_key=f"demo:bet:refunded:{i}",
            bypass_rate_limit=True,
        )
    market_close(market_id=refunded.pk, actor="system:demo")
    resolution_vote(market_id=refunded.pk, voter=DEMO_MODERATORS[0], cancel=True)
    resolution_vote(market_id=refunded.pk, voter=DEMO_MODERATORS[1], cancel=True)
    refund_market(market_id=refunded.pk)
    return f"demo guild {DEMO_GUILD_ID}: 3 open markets with trades, 1 resolved, 1 refunded"

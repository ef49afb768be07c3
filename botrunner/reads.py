"""Reads the bot needs, shaped as plain data on the worker thread.

Selectors return model instances and lazy querysets; touching a relation of
either on the event loop would run a query there. These helpers call the
selectors inside ``call`` and hand back frozen dataclasses that are safe to
use anywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db.models import Case, Count, Q, Value, When

from betting.selectors import member_portfolio
from betting.services import bet_quote, sell_quote
from botrunner.text import safe
from markets.amm import BuyQuote, SellQuote
from markets.corrections import history_sentence
from markets.descriptions import description_history
from markets.models import Market, MarketStatus, Outcome
from markets.resolvers import market_resolver, resolver_role
from markets.selectors import PriceHistoryPoint, market_list, public_market_url
from markets.services import market_get
from markets.snapshots import market_snapshot, snapshot_price_history
from points.models import Guild, Member
from predictmarket.errors import NotFound, ValidationFailed

UNDECIDED = (MarketStatus.OPEN, MarketStatus.CLOSED)
DECIDED = (MarketStatus.RESOLVED, MarketStatus.CANCELLED, MarketStatus.REFUNDED)


@dataclass(frozen=True)
class OutcomeLine:
    index: int
    label: str
    probability: Decimal
    is_winner: bool


@dataclass(frozen=True)
class DescriptionLine:
    number: int
    text: str
    by: str
    at: datetime


@dataclass(frozen=True)
class MarketCard:
    """Everything the market message shows."""

    market_id: int
    guild_id: int
    question: str
    description: str
    category: str
    status: str
    status_label: str
    creator_name: str
    closes_at: datetime
    volume: int
    traders: int
    outcomes: list[OutcomeLine]
    accepting_bets: bool
    history: list[PriceHistoryPoint]
    channel_id: int | None
    message_id: int | None
    page_url: str = ""  # the public web page, when the guild turned public pages on
    # The market's own rules, fixed when it was created.
    votes_needed: int = 2
    auto_refund_hours: int = 120
    fee_bps: int = 0
    # Who may resolve it besides the moderators (its creator or arbitrator), if anyone.
    resolver_name: str = ""
    resolver_role: str = ""
    # Every version of the description, oldest first; empty when never edited.
    description_history: tuple[DescriptionLine, ...] = ()
    # "resolved Yes, corrected to No by alice and bob", once the result was corrected.
    result_history: str = ""
    # The market's Discord thread, and whether its guild gives each market one now.
    thread_id: int | None = None
    market_threads: bool = False


def market_card(market_id: int, *, guild_id: int | None = None) -> MarketCard:
    market = market_get(market_id, guild_id=guild_id)
    # The numbers from the cached snapshot, at least as fresh as the row just read.
    snapshot = market_snapshot(
        guild_id=market.guild_id, market_id=market.pk, min_version=market.version
    )
    resolver = market_resolver(market)
    return MarketCard(
        market_id=market.pk,
        guild_id=market.guild_id,
        question=snapshot.question,
        description=snapshot.description,
        category=snapshot.category,
        status=snapshot.status,
        status_label=snapshot.status_label,
        creator_name=snapshot.creator_name,
        closes_at=snapshot.closes_at,
        volume=snapshot.volume,
        traders=snapshot.traders,
        outcomes=[
            OutcomeLine(o.index, o.label, o.probability, o.is_winner) for o in snapshot.outcomes
        ],
        accepting_bets=snapshot.accepting_bets(),
        history=snapshot_price_history(snapshot, kind="market_card_history", limit=300),
        channel_id=market.discord_channel_id,
        message_id=market.discord_message_id,
        thread_id=market.discord_thread_id,
        market_threads=market.guild.market_threads,
        page_url=public_market_url(market),
        votes_needed=market.min_resolution_votes,
        auto_refund_hours=market.auto_refund_hours,
        fee_bps=market.fee_bps,
        resolver_name=(resolver.display_name or str(resolver.discord_id)) if resolver else "",
        resolver_role=resolver_role(market) if resolver else "",
        description_history=tuple(
            DescriptionLine(v.number, v.text, v.by, v.at) for v in description_history(market)
        ),
        result_history=history_sentence(market) if market.correction_count else "",
    )


@dataclass(frozen=True)
class MarketRow:
    market_id: int
    question: str
    category: str
    status: str
    status_label: str
    closes_at: datetime
    volume: int


@dataclass(frozen=True)
class MarketPage:
    rows: list[MarketRow]
    page: int  # 0-based, within 0 … pages - 1
    pages: int  # at least 1, even when nothing matches
    total: int  # markets matching the filters
    first: int  # 1-based position of the first row in the whole list (0 when empty)


# The order of /market list: open markets first, then those closed and awaiting a
# decision, then the decided ones.
LIST_ORDER = (
    MarketStatus.OPEN,
    MarketStatus.CLOSED,
    MarketStatus.RESOLVED,
    MarketStatus.CANCELLED,
    MarketStatus.REFUNDED,
)


def _list_ordering(sort: str, status: str) -> tuple[str, str]:
    """Within one status; each is an index of ``Market.Meta`` read forwards or backwards."""
    if sort == "volume":
        return ("-volume", "-id")
    if sort == "newest":
        return ("-created_at", "-id")
    # Closing soon: open markets by the time left; the others most recently closed first.
    return ("closes_at", "id") if status == MarketStatus.OPEN else ("-closes_at", "-id")


def market_page(
    *,
    guild_id: int,
    status: str | None,
    category: str | None,
    search: str | None,
    sort: str,
    page: int,
    size: int,
) -> MarketPage:
    """One page of ``/market list``; ``page`` past the end (or negative) is the last page.

    The filters are the API's (``market_list``). Each status is read as its own
    index range — (guild, status, sort key, id) — so a page is one count query
    and one or two short range scans, however many markets the guild has.
    """
    markets = market_list(
        guild_id=guild_id, status=status, category=category, search=search
    ).select_related(None)
    counts = dict(
        markets.order_by()
        .values_list("status")
        .annotate(n=Count("id", distinct=True))
        .values_list("status", "n")
    )
    total = sum(counts.values())
    pages = max(1, -(-total // size))
    page = pages - 1 if page < 0 or page >= pages else page
    skip = page * size
    found: list[Market] = []
    for group in LIST_ORDER:
        in_group = counts.get(group, 0)
        if skip >= in_group:
            skip -= in_group
            continue
        wanted = size - len(found)
        ordered = markets.filter(status=group).order_by(*_list_ordering(sort, group))
        found += ordered[skip : skip + wanted]
        skip = 0
        if len(found) >= size:
            break
    return MarketPage(
        rows=[
            MarketRow(
                m.pk,
                m.question,
                m.category,
                m.status,
                m.get_status_display(),
                m.closes_at,
                m.volume,
            )
            for m in found
        ],
        page=page,
        pages=pages,
        total=total,
        first=page * size + 1 if found else 0,
    )


def category_choices(*, guild_id: int, typed: str, limit: int = 25) -> list[str]:
    """The guild's categories containing what was typed, those starting with it first."""
    text = " ".join(typed.split())
    categories = Market.objects.filter(guild_id=guild_id).exclude(category="")
    if text:
        categories = categories.filter(category__icontains=text)
    ranked = (
        categories.annotate(
            rank=Case(When(category__istartswith=text, then=Value(0)), default=Value(1))
        )
        .order_by("rank", "category")
        .values_list("category", flat=True)
        .distinct()
    )
    # "Sports" and "sports" are one category to the filter (iexact): offer it once, and
    # in the order members read, whatever the database's collation.
    seen: dict[str, str] = {}
    for name in ranked[: limit * 2]:
        seen.setdefault(name.casefold(), name)
    prefix = text.casefold()
    found = sorted(seen.values(), key=lambda n: (not n.casefold().startswith(prefix), n.casefold()))
    return found[:limit]


# Autocomplete's relevance tiers, best first, and how open a market is (open first).
EXACT_ID, QUESTION_PREFIX, WORD_PREFIX, SUBSTRING = range(4)
BIGINT_MAX = 2**63 - 1
OPENNESS = Case(
    When(status=MarketStatus.OPEN, then=Value(0)),
    When(status=MarketStatus.CLOSED, then=Value(1)),
    default=Value(2),
)


@dataclass(frozen=True)
class MarketChoice:
    market_id: int
    question: str
    status: str
    status_label: str


def market_choices(
    *, guild_id: int, typed: str, statuses: tuple[str, ...] | None, limit: int = 25
) -> list[MarketChoice]:
    """The guild's markets best matching what was typed, for autocomplete.

    Ranked by relevance — the exact number (``12`` or ``#12``), then questions
    starting with the text, then questions with a word starting with it, then
    questions containing it anywhere — then open before closed before decided,
    then newest. All of it in one query, so an old market that matches well
    is found however many newer ones match worse.
    """
    markets = Market.objects.filter(guild_id=guild_id)
    if statuses:
        markets = markets.filter(status__in=statuses)
    text = " ".join(typed.split())
    number = text.removeprefix("#").strip()
    if text:
        matches = Q(question__icontains=text)
        tiers = [
            When(question__istartswith=text, then=Value(QUESTION_PREFIX)),
            # \W is a non-word character in both PostgreSQL's and Python's regexes.
            When(question__iregex=r"(^|\W)" + re.escape(text), then=Value(WORD_PREFIX)),
        ]
        if number.isdecimal() and int(number) <= BIGINT_MAX:
            matches |= Q(pk=int(number))
            tiers.insert(0, When(pk=int(number), then=Value(EXACT_ID)))
        markets = markets.filter(matches).annotate(relevance=Case(*tiers, default=Value(SUBSTRING)))
    else:
        markets = markets.annotate(relevance=Value(SUBSTRING))
    ranked = markets.annotate(openness=OPENNESS).order_by(
        "relevance", "openness", "-created_at", "-id"
    )
    return [
        MarketChoice(pk, question, status, MarketStatus(status).label)
        for pk, question, status in ranked.values_list("pk", "question", "status")[:limit]
    ]


def outcome_choices(*, guild_id: int, market_id: int) -> list[tuple[int, str, Decimal]]:
    """(index, label, probability) of a market's outcomes; empty for an unknown market."""
    try:
        snapshot = market_snapshot(guild_id=guild_id, market_id=market_id)
    except NotFound:
        return []
    return [(o.index, o.label, o.probability) for o in snapshot.outcomes]


# What autocomplete sends for an answer: the internal index behind a prefix no
# member types, so a picked answer can never be read as a label or a number.
PICKED_PREFIX = "pm-answer:"


def picked_value(index: int) -> str:
    """The autocomplete value for the answer at 0-based ``index``."""
    return f"{PICKED_PREFIX}{index}"


def outcome_index(*, guild_id: int, market_id: int, typed: str) -> int:
    """The 0-based index of the answer a member picked or typed.

    Members see labels, and answers numbered from 1; they never see an index.
    So, in this order: an autocomplete value; an exact label (case and
    surrounding spaces ignored), which wins over a number so that on answers
    "1 / 2 / 3" typing ``1`` is the answer labelled "1"; then the number shown
    to members, from 1. Anything else is refused naming the answers as
    members count them.
    """
    market = market_get(market_id, guild_id=guild_id)  # NotFound outside this guild
    labels = list(market.outcomes.order_by("index").values_list("index", "label"))
    text = (typed or "").strip()
    if text.startswith(PICKED_PREFIX):
        picked = text[len(PICKED_PREFIX) :]
        for index, _label in labels:
            if picked == str(index):
                return index
    for index, label in labels:
        if label.strip().casefold() == text.casefold():
            return index
    if text.isdecimal() and 1 <= int(text) <= len(labels):
        return labels[int(text) - 1][0]
    # Member text goes back to them escaped and short; a number is shown bare.
    shown = text if text.isdecimal() and len(text) <= 12 else f"“{safe(text, 40)}”"
    raise ValidationFailed(
        f"This market has no answer {shown}: choose 1 to {len(labels)}, or type the answer.",
        field="outcome",
    )


@dataclass(frozen=True)
class PositionLine:
    outcome_index: int
    outcome_label: str
    shares: Decimal
    value: Decimal
    points_spent: int
    points_received: int


def positions_in_market(member: Member, market_id: int) -> list[PositionLine]:
    portfolio = member_portfolio(member, include_closed=True)
    return [
        PositionLine(
            h.outcome_index, h.outcome_label, h.shares, h.value, h.points_spent, h.points_received
        )
        for h in portfolio.holdings
        if h.market_id == market_id and (h.shares > 0 or h.points_spent or h.points_received)
    ]


@dataclass(frozen=True)
class AnnouncementTarget:
    channel_id: int | None
    moderator_role_id: int | None
    # The market's own thread, when it has one (its guild's market_threads setting).
    thread_id: int | None = None


def announcement_target(guild_id: int | None, market_id: int | None = None) -> AnnouncementTarget:
    """Where a guild's announcements go, and the thread of the market they are about."""
    row = Guild.objects.filter(pk=guild_id).values("announcement_channel_id", "moderator_role_id")
    found = row.first() if guild_id else None
    if not found:
        return AnnouncementTarget(None, None)
    thread_id = None
    if market_id is not None:
        thread_id = (
            Market.objects.filter(pk=market_id, guild_id=guild_id)
            .values_list("discord_thread_id", flat=True)
            .first()
        )
    return AnnouncementTarget(
        found["announcement_channel_id"], found["moderator_role_id"], thread_id
    )


def guild_settings(guild_id: int) -> Guild:
    """The guild row (plain fields only are read from it on the loop)."""
    return Guild.objects.get(pk=guild_id)


@dataclass(frozen=True)
class MarketOutcomes:
    market_id: int
    question: str
    accepting_bets: bool
    outcomes: list[tuple[int, str, Decimal]]


def market_outcomes(*, guild_id: int, market_id: int) -> MarketOutcomes:
    snapshot = market_snapshot(guild_id=guild_id, market_id=market_id)
    return MarketOutcomes(
        snapshot.market_id,
        snapshot.question,
        snapshot.accepting_bets(),
        [(o.index, o.label, o.probability) for o in snapshot.outcomes],
    )


@dataclass(frozen=True)
class QuoteView:
    question: str
    outcome_label: str
    quote: BuyQuote


def quote_bet(*, guild_id: int, market_id: int, outcome_index: int, amount: object) -> QuoteView:
    quote = bet_quote(
        market_id=market_id, outcome_index=outcome_index, amount=amount, guild_id=guild_id
    )
    question = Market.objects.values_list("question", flat=True).get(pk=market_id)
    label = Outcome.objects.values_list("label", flat=True).get(
        market_id=market_id, index=outcome_index
    )
    return QuoteView(question, label, quote)


@dataclass(frozen=True)
class SaleQuoteView:
    question: str
    outcome_label: str
    quote: SellQuote


def quote_sale(
    *, member: Member, market_id: int, outcome_index: int, shares: object
) -> SaleQuoteView:
    """What selling would pay now; refused like the sale itself when it would pay nothing."""
    quote = sell_quote(
        member=member, market_id=market_id, outcome_index=outcome_index, shares=shares
    )
    if quote.points_out < 1:
        # The same rule the sale applies: no Confirm button for a sale that cannot happen.
        raise ValidationFailed(
            "Too few shares: selling them would return less than 1 point.", field="shares"
        )
    question = Market.objects.values_list("question", flat=True).get(pk=market_id)
    label = Outcome.objects.values_list("label", flat=True).get(
        market_id=market_id, index=outcome_index
    )
    return SaleQuoteView(question, label, quote)


def member_wants_result_dms(member_id: int) -> bool:
    """Whether the member still has ``/notify on`` (read when their DM is about to go out)."""
    return Member.objects.filter(pk=member_id, notify_results=True).exists()

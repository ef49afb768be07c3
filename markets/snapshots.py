"""Cached market snapshots: what every market view shows, keyed by the market's version.

Writes. Every trade and lifecycle change bumps ``Market.version`` in its own
transaction and calls ``market_changed`` there. After the commit (never inside
the market lock) the market's *latest-version pointer* moves forward to the
new version; with ``MARKET_SNAPSHOT_EAGER`` the writer also builds and stores
the new snapshot first, otherwise the first reader of the version does (a
trade then costs one cache call, not the build's queries). The pointer never
moves back: two commits' callbacks can run in either order (another process,
a slow thread), and an older one finishing last must not hide the newer
snapshot (``_advance_pointer``).

Reads. ``market_snapshot`` reads the pointer, then the snapshot it names: two
cache round trips, no database. A caller told about a version (a trader's
response carries ``market_version``) passes ``min_version``; a pointer behind
it is not trusted and the database answers. A snapshot is immutable once
stored (a version names one committed state), so an ETag from its version is
exact.

Failure. The cache is an accelerator, never a dependency: any cache error
(Redis down or timing out, see ``CACHE_SOCKET_TIMEOUT_MS``) is counted as
``error`` in ``predictmarket_cache_reads_total`` and the read is served from the
database; a failed refresh after a commit is logged and forgotten (the next
reader misses and rebuilds). ``READ_CACHE_ENABLED=false`` turns the cached
reads off altogether.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from django.conf import settings
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import DatabaseError, connection, transaction
from django.db.models import Count
from django.utils import timezone

from markets import amm
from markets.corrections import HistoryStep, correction_deadline, history_sentence, market_history
from markets.models import Market, MarketStatus, Outcome
from markets.resolvers import market_resolver, who_may_resolve
from markets.selectors import PriceHistoryPoint, price_history
from predictmarket.cache_errors import CACHE_ERRORS
from predictmarket.cache_metrics import count_cache_read
from predictmarket.errors import NotFound

if TYPE_CHECKING:
    from markets.descriptions import DescriptionEntry

logger = logging.getLogger(__name__)

# Part of every key: a deploy that changes the snapshot's shape reads none of the old ones.
SCHEMA = 3
RECENT_TRADES = 25
TOP_HOLDERS = 10


@dataclass(frozen=True)
class OutcomeSnapshot:
    index: int
    label: str
    pool: Decimal
    probability: Decimal
    is_winner: bool


@dataclass(frozen=True)
class TradeLine:
    created_at: datetime
    member_name: str
    side: str
    side_label: str
    outcome_label: str
    points: int
    shares: Decimal


@dataclass(frozen=True)
class HolderLine:
    display_name: str
    outcome_label: str
    shares: Decimal


@dataclass(frozen=True)
class MarketSnapshot:
    """One committed state of a market, as every view shows it."""

    market_id: int
    guild_id: int
    version: int
    question: str
    description: str
    category: str
    status: str
    creator_name: str
    opens_at: datetime
    closes_at: datetime
    resolved_at: datetime | None
    settled_at: datetime | None
    liquidity: int
    fee_bps: int
    min_resolution_votes: int
    auto_refund_hours: int
    volume: int
    traders: int
    trades: int
    outcomes: tuple[OutcomeSnapshot, ...]
    recent_trades: tuple[TradeLine, ...]
    holders: tuple[HolderLine, ...]
    # Its decisions, first to last ("resolved Yes", then each correction), the same
    # in one line, and until when moderators may still correct it.
    history: tuple[HistoryStep, ...] = ()
    history_text: str = ""
    correctable_until: datetime | None = None
    # Who may resolve it besides the moderators (its creator or a named arbitrator).
    resolver_rule: str = ""
    resolver_name: str | None = None
    resolver_discord_id: int | None = None
    who_may_resolve: str = "moderators"
    # Every version of the description, oldest first (empty when never edited).
    description_history: tuple[DescriptionEntry, ...] = ()

    @property
    def status_label(self) -> str:
        return MarketStatus(self.status).label

    def accepting_bets(self, now: datetime | None = None) -> bool:
        # Computed at read time: betting stops at closes_at exactly, before any
        # sweep marks the market CLOSED (and bumps its version).
        return self.status == MarketStatus.OPEN and self.closes_at > (now or timezone.now())

    def time_left(self, now: datetime | None = None) -> timedelta | None:
        now = now or timezone.now()
        return self.closes_at - now if self.accepting_bets(now) else None

    def etag(self, now: datetime | None = None) -> str:
        """Names this version, and whether betting is open now (which time alone changes)."""
        state = "open" if self.accepting_bets(now) else "shut"
        return f'"m{self.market_id}-v{self.version}-{state}"'


# ------------------------------------------------------------------------------
# Keys
# ------------------------------------------------------------------------------
def _pointer_key(market_id: int) -> str:
    return f"mkt:{SCHEMA}:{market_id}:ver"


# The pointer holds version + 1: django_prometheus' local-memory cache answers
# ``cached or default``, so a stored 0 (a new market) would read as a miss.
def _pointer_value(version: int) -> int:
    return version + 1


def _pointed_version(value: int | None) -> int | None:
    return None if value is None else value - 1


def _snapshot_key(market_id: int, version: int) -> str:
    return f"mkt:{SCHEMA}:{market_id}:snap:{version}"


def _roster_key(guild_id: int) -> str:
    return f"guild:{SCHEMA}:{guild_id}:roster"


def read_cache_enabled() -> bool:
    return bool(settings.READ_CACHE_ENABLED)


# ------------------------------------------------------------------------------
# Building from the database
# ------------------------------------------------------------------------------
@contextlib.contextmanager
def _one_snapshot_of_the_database() -> Iterator[None]:
    """Every query of the build sees the same committed state.

    Under PostgreSQL's default READ COMMITTED each statement sees the latest
    commit: the market row (its version) and the pools could come from two
    different trades, and the snapshot would be stored under a version it
    does not show. REPEATABLE READ READ ONLY gives the build one snapshot.
    Inside a caller's transaction (tests, a service) the caller's view holds.
    """
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def snapshot_build(*, guild_id: int, market_id: int) -> MarketSnapshot:
    """The market's snapshot from the database (NotFound outside ``guild_id``)."""
    # markets.descriptions imports markets.services, which imports this module.
    from markets.descriptions import description_history

    with _one_snapshot_of_the_database():
        market = (
            Market.objects.select_related("creator", "arbitrator")
            .filter(pk=market_id, guild_id=guild_id)
            .first()
        )
        if market is None:
            raise NotFound("That market does not exist in this server.", market_id=market_id)
        resolver = market_resolver(market)
        outcomes = list(Outcome.objects.filter(market=market).order_by("index"))
        prices = amm.prices([o.pool for o in outcomes]) if outcomes else ()
        # Reverse relations of the betting app's rows (markets never imports betting).
        counts = market.trades.aggregate(traders=Count("member", distinct=True), trades=Count("id"))
        # Only the columns the lines show, not the trades' and members' whole rows: a hot
        # market's snapshot is rebuilt for nearly every read (each trade is a new version),
        # and making the rows into models was a fifth of a read's CPU in bench/reads.py.
        # The lines are picked from the trades (and positions) alone, then joined to their
        # members and outcomes: joined first, PostgreSQL may join every trade of the
        # market before it sorts and keeps 25, whenever its statistics predate the
        # market's trades (a market that became busy since the table was last
        # analysed): 7.4 ms of a 16 ms build at 5,400 trades. Picked first, the lines of a
        # market of 2,200 trades took 1.3 ms instead of 2.9 ms (unanalysed statistics both).
        trade_model, position_model = market.trades.model, market.positions.model
        latest = market.trades.order_by("-id").values("id")[:RECENT_TRADES]
        recent = (
            trade_model.objects.filter(id__in=latest)
            .order_by("-id")
            .values_list(
                "created_at", "member__display_name", "side", "outcome__label", "points", "shares"
            )
        )
        side_labels = dict(trade_model._meta.get_field("side").flatchoices)
        largest = market.positions.filter(shares__gt=0).order_by("-shares", "id").values("id")
        holders = (
            position_model.objects.filter(id__in=largest[:TOP_HOLDERS])
            .order_by("-shares", "id")
            .values_list("member__display_name", "outcome__label", "shares")
        )
        history = tuple(market_history(market))
        return MarketSnapshot(
            market_id=market.pk,
            guild_id=market.guild_id,
            version=market.version,
            question=market.question,
            description=market.description,
            category=market.category,
            status=market.status,
            creator_name=market.creator.display_name or str(market.creator.discord_id),
            opens_at=market.opens_at,
            closes_at=market.closes_at,
            resolved_at=market.resolved_at,
            settled_at=market.settled_at,
            liquidity=market.liquidity,
            fee_bps=market.fee_bps,
            min_resolution_votes=market.min_resolution_votes,
            auto_refund_hours=market.auto_refund_hours,
            volume=market.volume,
            traders=counts["traders"],
            trades=counts["trades"],
            outcomes=tuple(
                OutcomeSnapshot(
                    index=o.index,
                    label=o.label,
                    pool=o.pool,
                    probability=prices[i],
                    is_winner=o.pk == market.winning_outcome_id,
                )
                for i, o in enumerate(outcomes)
            ),
            recent_trades=tuple(
                TradeLine(
                    created_at=created_at,
                    member_name=member_name,
                    side=side,
                    side_label=str(side_labels.get(side, side)),
                    outcome_label=outcome_label,
                    points=points,
                    shares=shares,
                )
                for created_at, member_name, side, outcome_label, points, shares in recent
            ),
            holders=tuple(HolderLine(*row) for row in holders),
            history=history,
            history_text=history_sentence(market, history=history) if market.is_final else "",
            correctable_until=correction_deadline(market),
            resolver_rule=market.resolver_rule,
            resolver_name=(resolver.display_name or str(resolver.discord_id)) if resolver else None,
            resolver_discord_id=resolver.discord_id if resolver else None,
            who_may_resolve=who_may_resolve(market),
            description_history=tuple(description_history(market)),
        )


# ------------------------------------------------------------------------------
# The latest-version pointer: forward only
# ------------------------------------------------------------------------------
# KEYS[1] the pointer, ARGV[1] the version, ARGV[2] the timeout (s). Django's
# Redis serializer stores integers as plain numbers, so cache.get() reads it back.
_ADVANCE_LUA = """
local current = tonumber(redis.call('GET', KEYS[1]))
if current == nil or current < tonumber(ARGV[1]) then
    redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
    return 1
end
return 0
"""
_local_lock = threading.Lock()


def _advance_pointer(market_id: int, version: int) -> None:
    """Set the pointer to ``version`` unless it already names a newer one (atomically)."""
    key = _pointer_key(market_id)
    timeout = settings.MARKET_SNAPSHOT_TTL
    # ``cache`` is a proxy: the backend itself says whether it is Redis.
    backend = caches["default"]
    if isinstance(backend, RedisCache):
        full_key = backend.make_and_validate_key(key)
        client = backend._cache.get_client(full_key, write=True)
        client.eval(_ADVANCE_LUA, 1, full_key, _pointer_value(version), timeout)
        return
    # Local memory is one process's own: a lock makes the compare-and-set atomic.
    with _local_lock:
        current = _pointed_version(cache.get(key))
        if current is None or current < version:
            cache.set(key, _pointer_value(version), timeout=timeout)


def _store(snapshot: MarketSnapshot) -> None:
    # The snapshot first, then the pointer: a reader following the pointer finds it.
    cache.set(
        _snapshot_key(snapshot.market_id, snapshot.version),
        snapshot,
        timeout=settings.MARKET_SNAPSHOT_TTL,
    )
    _advance_pointer(snapshot.market_id, snapshot.version)


# ------------------------------------------------------------------------------
# Writes: call inside the transaction that bumped the version
# ------------------------------------------------------------------------------
def market_changed(market: Market, *, roster: bool = True) -> None:
    """Refresh the market's cached snapshot once this transaction commits.

    ``market.version`` must already be the bumped one. ``roster`` says the
    guild's market lists may have changed (a market created, or its status
    changed): their cached id lists are dropped too. A trade changes only the
    market's own numbers and passes ``roster=False``.
    """
    transaction.on_commit(
        functools.partial(_refresh_after_commit, market.guild_id, market.pk, market.version, roster)
    )


def is_snapshot_refresh(callback: object) -> bool:
    """Whether an on-commit callback is ``market_changed``'s (tests count the others)."""
    return getattr(callback, "func", None) is _refresh_after_commit


def _refresh_after_commit(guild_id: int, market_id: int, version: int, roster: bool) -> None:
    try:
        if roster:
            cache.delete(_roster_key(guild_id))
        if not read_cache_enabled():
            # Nobody reads it now; a pointer left behind would be stale when reads come back.
            cache.delete(_pointer_key(market_id))
            return
        if not settings.MARKET_SNAPSHOT_EAGER:
            # Only the pointer moves: the first reader of this version misses and
            # builds it (from a database read after this commit, so never older).
            # Costs the writer one cache call instead of the build's queries.
            _advance_pointer(market_id, version)
            return
        current = _pointed_version(cache.get(_pointer_key(market_id)))
        if current is not None and current >= version:
            return  # a later commit's callback already stored a newer snapshot
        _store(snapshot_build(guild_id=guild_id, market_id=market_id))
    except (*CACHE_ERRORS, DatabaseError):
        # Committed already: a failed refresh must not turn the change into an error.
        # The pointer may now name an older version: drop it if the cache lets us, so
        # readers miss and read the database rather than keep the old odds.
        logger.warning("market %s: snapshot refresh failed", market_id, exc_info=True)
        with contextlib.suppress(*CACHE_ERRORS):
            cache.delete(_pointer_key(market_id))


# ------------------------------------------------------------------------------
# Reads
# ------------------------------------------------------------------------------
def market_snapshot(
    *, guild_id: int, market_id: int, min_version: int | None = None
) -> MarketSnapshot:
    """The market as of its latest version, at least ``min_version`` (NotFound elsewhere)."""
    if not read_cache_enabled():
        return snapshot_build(guild_id=guild_id, market_id=market_id)
    try:
        version = _pointed_version(cache.get(_pointer_key(market_id)))
        snapshot = None
        if version is not None and (min_version is None or version >= min_version):
            snapshot = cache.get(_snapshot_key(market_id, version))
    except CACHE_ERRORS:
        logger.warning("market %s: cache unavailable, reading the database", market_id)
        count_cache_read("market_snapshot", "error")
        return snapshot_build(guild_id=guild_id, market_id=market_id)
    if snapshot is not None:
        count_cache_read("market_snapshot", "hit")
        if snapshot.guild_id != guild_id:
            raise NotFound("That market does not exist in this server.", market_id=market_id)
        return snapshot
    count_cache_read("market_snapshot", "miss")
    snapshot = snapshot_build(guild_id=guild_id, market_id=market_id)
    try:
        _store(snapshot)
    except CACHE_ERRORS:
        logger.warning("market %s: could not cache its snapshot", market_id, exc_info=True)
    return snapshot


def market_snapshots(*, guild_id: int, market_ids: Sequence[int]) -> list[MarketSnapshot]:
    """Snapshots of several markets of one guild, in order: two cache round trips when warm.

    Ids of another guild's markets are left out (the caller listed this guild's).
    """
    if not market_ids:
        return []
    found: dict[int, MarketSnapshot] = {}
    # Down (or off): no store per missing market either; a hung Redis would cost each one
    # the socket timeout.
    cache_up = read_cache_enabled()
    if cache_up:
        try:
            pointers = cache.get_many([_pointer_key(i) for i in market_ids])
            versions = {i: _pointed_version(pointers.get(_pointer_key(i))) for i in market_ids}
            keys = {_snapshot_key(i, v): i for i, v in versions.items() if v is not None}
            for key, snapshot in cache.get_many(list(keys)).items():
                found[keys[key]] = snapshot
        except CACHE_ERRORS:
            logger.warning("guild %s: cache unavailable, reading the database", guild_id)
            count_cache_read("market_snapshot", "error")
            found, cache_up = {}, False
        else:
            for market_id in market_ids:
                count_cache_read("market_snapshot", "hit" if market_id in found else "miss")
    result = []
    for market_id in market_ids:
        snapshot = found.get(market_id)
        if snapshot is None:
            try:
                snapshot = snapshot_build(guild_id=guild_id, market_id=market_id)
            except NotFound:
                continue
            if cache_up:
                try:
                    _store(snapshot)
                except CACHE_ERRORS:
                    cache_up = False
        if snapshot.guild_id == guild_id:
            result.append(snapshot)
    return result


def roster_token(guild_id: int) -> str | None:
    """A token that changes whenever the guild's market lists may have (None: cache down).

    Keyed on it, a list of market ids stays valid until a market is created
    or changes status; the markets' own numbers come from their snapshots.
    """
    if not read_cache_enabled():
        return None
    try:
        key = _roster_key(guild_id)
        token = cache.get(key)
        if token is None:
            cache.add(key, secrets.token_hex(8), timeout=settings.MARKET_LIST_TTL)
            token = cache.get(key)
        return token
    except CACHE_ERRORS:
        logger.warning("guild %s: cache unavailable for its market lists", guild_id)
        return None


def cached_market_ids(
    *, guild_id: int, kind: str, filters: dict[str, Any], load: Callable[[], Iterable[int]]
) -> list[int]:
    """The ids ``load()`` returns for this guild and these filters, cached per roster token."""
    token = roster_token(guild_id)
    if token is None:
        if read_cache_enabled():
            count_cache_read(kind, "error")
        return list(load())
    # Filters are what members typed: hashed, so any text makes a valid key.
    described = "&".join(
        f"{name}={filters[name]}" for name in sorted(filters) if filters[name] not in (None, "")
    )
    digest = hashlib.sha256(described.encode()).hexdigest()[:32]
    key = f"guild:{SCHEMA}:{guild_id}:{kind}:{token}:{digest}"
    try:
        ids = cache.get(key)
    except CACHE_ERRORS:
        count_cache_read(kind, "error")
        return list(load())
    if ids is not None:
        count_cache_read(kind, "hit")
        return ids
    count_cache_read(kind, "miss")
    ids = list(load())
    with contextlib.suppress(*CACHE_ERRORS):
        cache.set(key, ids, timeout=settings.MARKET_LIST_TTL)
    return ids


T = TypeVar("T")


def version_cached(kind: str, snapshot: MarketSnapshot, load: Callable[[], T]) -> T:
    """Something derived from the market's rows (a chart's history), cached for its version.

    Built on first read, not at commit: too costly to redo on every trade for
    markets nobody is looking at.
    """
    if not read_cache_enabled():
        return load()
    key = f"mkt:{SCHEMA}:{snapshot.market_id}:{kind}:{snapshot.version}"
    try:
        value = cache.get(key)
    except CACHE_ERRORS:
        count_cache_read(kind, "error")
        return load()
    if value is not None:
        count_cache_read(kind, "hit")
        return value
    count_cache_read(kind, "miss")
    value = load()
    with contextlib.suppress(*CACHE_ERRORS):
        cache.set(key, value, timeout=settings.MARKET_SNAPSHOT_TTL)
    return value


def snapshot_price_history(
    snapshot: MarketSnapshot, *, kind: str = "market_history", limit: int = 500
) -> list[PriceHistoryPoint]:
    """The chart's points as of the snapshot's version, cached for it (under ``kind``)."""
    return version_cached(
        kind,
        snapshot,
        lambda: price_history(
            market_id=snapshot.market_id,
            opens_at=snapshot.opens_at,
            outcome_count=len(snapshot.outcomes),
            limit=limit,
        ),
    )

"""Market lifecycle: create, close, vote, resolve, cancel.

Settlement and refunds live in the betting app (they need positions); this app
asks for them through the ``market_decided`` signal and the periodic sweeps.
Every function that changes a market locks its row first (then accounts, by
primary key, inside ``ledger_post``), the one lock order of the project.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from markets import amm
from markets.corrections import (
    correction_check_locked,
    correction_choice_check,
    correction_decide_locked,
    vote_round,
)
from markets.models import Market, MarketStatus, Outcome, ResolutionVote
from markets.resolvers import (
    decided_by_locked,
    market_resolver_rules_check,
    resolver_decision_locked,
    resolver_vote_permitted_locked,
)
from markets.signals import market_decided
from markets.snapshots import market_changed
from markets.validation import clean_market_input
from markets.voters import discord_voter, vote_channel, voter_check
from points.ledger import Leg, ledger_post
from points.models import Member, TransactionKind
from points.services import escrow_account_create, house_account
from predictmarket.audit import audit_record
from predictmarket.errors import (
    AccountFrozen,
    Conflict,
    InvalidState,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from predictmarket.models import StaffDiscordLink
from predictmarket.outbox import outbox_append
from predictmarket.ratelimit import rate_limit_hit

REMIND_AFTER = timedelta(hours=24)


def market_lock(market_id: int, *, guild_id: int | None = None) -> Market:
    """The market row, locked until the end of the transaction (serialises its trades)."""
    markets = Market.objects.select_for_update(of=("self",)).select_related("guild")
    if guild_id is not None:
        markets = markets.filter(guild_id=guild_id)
    market = markets.filter(pk=market_id).first()
    if market is None:
        raise NotFound("That market does not exist in this server.", market_id=market_id)
    return market


def market_get(market_id: int, *, guild_id: int | None = None) -> Market:
    markets = Market.objects.select_related("guild", "creator")
    if guild_id is not None:
        markets = markets.filter(guild_id=guild_id)
    market = markets.filter(pk=market_id).first()
    if market is None:
        raise NotFound("That market does not exist in this server.", market_id=market_id)
    return market


def probabilities_payload(pools: Sequence) -> list[str]:
    return [str(p.quantize(amm.SHARE_QUANTUM)) for p in amm.prices(pools)]


def market_event_payload(market: Market, **extra: object) -> dict[str, object]:
    return {
        "market_id": market.pk,
        "status": market.status,
        "question": market.question,
        "channel_id": str(market.discord_channel_id or ""),
        "message_id": str(market.discord_message_id or ""),
        **extra,
    }


# ------------------------------------------------------------------------------
# Creation
# ------------------------------------------------------------------------------
def market_create(
    *,
    creator: Member,
    question: str,
    options: Sequence[str],
    duration: timedelta,
    category: str = "",
    description: str = "",
    arbitrator: Member | None = None,
    actor: str,
    idempotency_key: str | None = None,
    bypass_rate_limit: bool = False,
) -> Market:
    """Open a market; the house pays its liquidity into the market's escrow.

    ``arbitrator`` is the member who may resolve it, when the guild's rule for
    this kind of market asks for one (``markets.resolvers``).
    """
    if idempotency_key:
        earlier = Market.objects.filter(idempotency_key=idempotency_key).first()
        if earlier is not None:
            same_options = [o.label for o in earlier.outcomes.order_by("index")] == [
                str(o).strip() for o in options
            ]
            if (
                earlier.creator_id != creator.pk
                or earlier.question != question.strip()
                or not same_options
            ):
                raise Conflict("This request id was already used for a different market.")
            return earlier
    data = clean_market_input(
        question=question,
        options=options,
        duration=duration,
        category=category,
        description=description,
    )
    if Member.objects.filter(pk=creator.pk, is_frozen=True).exists():
        raise AccountFrozen()
    guild = creator.guild
    resolver_rule, arbitrator = market_resolver_rules_check(
        guild=guild, creator=creator, option_count=len(data.options), arbitrator=arbitrator
    )
    rate_limit_hit("market_create", guild.pk, bypass=bypass_rate_limit)
    now = timezone.now()
    liquidity = guild.default_liquidity
    try:
        with transaction.atomic():
            escrow = escrow_account_create(guild_id=guild.pk, label=f"market: {data.question[:80]}")
            market = Market.objects.create(
                guild=guild,
                creator=creator,
                question=data.question,
                description=data.description,
                category=data.category,
                opens_at=now,
                closes_at=now + data.duration,
                liquidity=liquidity,
                fee_bps=guild.fee_bps,
                min_resolution_votes=guild.min_resolution_votes,
                auto_refund_hours=guild.auto_refund_hours,
                resolver_rule=resolver_rule,
                arbitrator=arbitrator,
                correction_window_hours=guild.correction_window_hours,
                escrow_account=escrow,
                idempotency_key=idempotency_key or None,
            )
            pools = amm.initial_pools(len(data.options), liquidity)
            Outcome.objects.bulk_create(
                Outcome(market=market, index=i, label=label, pool=pools[i])
                for i, label in enumerate(data.options)
            )
            ledger_post(
                guild_id=guild.pk,
                legs=[Leg(house_account(guild.pk).pk, -liquidity), Leg(escrow.pk, liquidity)],
                kind=TransactionKind.SUBSIDY,
                actor=actor,
                memo=f"liquidity for market #{market.pk}",
                idempotency_key=f"market:{market.pk}:subsidy",
            )
            audit_record(
                actor=actor,
                action="market.create",
                guild_id=guild.pk,
                target=market,
                data={
                    "question": data.question,
                    "options": list(data.options),
                    "resolver_rule": resolver_rule,
                    "arbitrator": arbitrator.discord_id if arbitrator else None,
                },
            )
            outbox_append(
                kind="market.created",
                guild_id=guild.pk,
                aggregate_type="market",
                aggregate_id=market.pk,
                payload=market_event_payload(
                    market,
                    options=list(data.options),
                    closes_at=market.closes_at.isoformat(),
                    # Decided with the market, in its transaction: the bot announces
                    # it only if the guild asked for new markets to be announced then.
                    announce=guild.announce_new_markets,
                ),
            )
            market_changed(market)
    except IntegrityError:
        if idempotency_key and Market.objects.filter(idempotency_key=idempotency_key).exists():
            # A concurrent retry of the same request created it first.
            return Market.objects.get(idempotency_key=idempotency_key)
        raise
    return market


# ------------------------------------------------------------------------------
# Closing
# ------------------------------------------------------------------------------
def _close_locked(market: Market, *, actor: str, now: datetime, early: bool) -> None:
    market.status = MarketStatus.CLOSED
    if early and market.closes_at > now:
        # Never at or before opens_at (a close in the creation's clock tick).
        market.closes_at = max(now, market.opens_at + timedelta(microseconds=1))
    market.version += 1  # the row is locked (market_lock)
    market.save(update_fields=["status", "closes_at", "version", "updated_at"])
    market_changed(market)
    audit_record(
        actor=actor,
        action="market.close",
        guild_id=market.guild_id,
        target=market,
        data={"early": early},
    )
    outbox_append(
        kind="market.closed",
        guild_id=market.guild_id,
        aggregate_type="market",
        aggregate_id=market.pk,
        payload=market_event_payload(market),
    )


def market_close(*, market_id: int, actor: str, guild_id: int | None = None) -> Market:
    """Stop betting now (moderators)."""
    with transaction.atomic():
        market = market_lock(market_id, guild_id=guild_id)
        if market.status != MarketStatus.OPEN:
            raise InvalidState(f"The market is {market.get_status_display().lower()}, not open.")
        _close_locked(market, actor=actor, now=timezone.now(), early=True)
    return market


def markets_close_due(*, now: datetime | None = None) -> list[int]:
    """Mark CLOSED every open market past ``closes_at`` (betting already stopped then)."""
    now = now or timezone.now()
    closed = []
    due = Market.objects.filter(status=MarketStatus.OPEN, closes_at__lte=now)
    for market_id in due.values_list("pk", flat=True)[:500]:
        with transaction.atomic():
            market = market_lock(market_id)
            if market.status == MarketStatus.OPEN and market.closes_at <= now:
                _close_locked(market, actor="system", now=now, early=False)
                closed.append(market_id)
    return closed


# ------------------------------------------------------------------------------
# Resolution
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class VoteResult:
    market: Market
    choice: str  # outcome label, or "cancel"
    votes_for_choice: int
    votes_needed: int
    decided: bool
    # The market's creator or arbitrator voted but holds shares: a moderator must agree.
    waiting_for_moderator: bool = False
    # A vote to correct the decided market's result (round 1 and on), not to decide it.
    correction: bool = False


def resolution_vote(
    *,
    market_id: int,
    voter: str,
    actor: str | None = None,
    outcome_index: int | None = None,
    cancel: bool = False,
    guild_id: int | None = None,
    cast_by_user_id: int | None = None,
    is_moderator: bool = True,
    correct: bool | None = False,
) -> VoteResult:
    """A moderator's vote for an outcome or for cancel; decides at the market's threshold.

    ``voter`` is the person (``discord:<id>`` or ``user:<staff pk>``, see
    ``markets.voters``): one vote per person and market, whichever channel it
    came through. ``actor`` is who acted through which channel (``discord:<id>``
    from the bot, ``api:discord:<id>``, ``admin:<username>``), recorded in the
    audit log; it defaults to ``voter``. A moderator may change their vote until
    the market is decided; voting again for the same choice is refused.
    ``cast_by_user_id`` is the staff user voting in the admin: a vote they cast
    earlier as another identity (before a superuser changed or removed their
    link) is replaced by this one, so a relink never gives a second vote.

    A decision needs ``min_resolution_votes`` agreeing votes of Discord users,
    or as many of staff users not linked to Discord: the two kinds are never
    added up, because an unlinked staff user may be one of those Discord users.

    ``is_moderator`` says whether the caller checked that the voter moderates
    now; a voter who does not may vote only as the market's creator or
    arbitrator, when its resolver rule names them (``markets.resolvers``, which
    also decides when their vote settles the market).

    ``correct`` votes to correct a decided market's result instead (see
    ``markets.corrections``): the same rule, counted in the market's next round
    of votes, within its correction window. A correction is a decision, so the
    resolver rule applies to it as to the first one: the creator or arbitrator
    may vote, and one who holds shares is never the sole deciding vote.
    ``correct=None`` takes the market as it is under its lock: a correction vote
    once it is decided, a resolution vote before (``/market resolve``).
    """
    voter_check(voter)
    actor = actor or voter
    if cancel == (outcome_index is not None):
        raise ValidationFailed("Vote for exactly one outcome, or for cancel.")
    now = timezone.now()
    with transaction.atomic():
        market = market_lock(market_id, guild_id=guild_id)
        if correct is None:
            correct = market.is_final
        resolver_vote_permitted_locked(market, voter=voter, is_moderator=is_moderator)
        if market.is_final and not correct:
            raise InvalidState(
                f"The market is already {market.get_status_display().lower()}. To change "
                "its result, vote for a correction (/moderate correct; a market's creator "
                "or arbitrator uses /market resolve)."
            )
        if correct:
            correction_check_locked(market, now=now)
        elif market.status == MarketStatus.OPEN:
            if market.closes_at > now:
                raise InvalidState("Betting is still open: close the market before resolving it.")
            _close_locked(market, actor="system", now=now, early=False)
        outcome = None
        if not cancel:
            outcome = market.outcomes.filter(index=outcome_index).first()
            if outcome is None:
                raise ValidationFailed(
                    f"This market has no option {outcome_index}.", field="outcome"
                )
        if correct:
            correction_choice_check(market, outcome=outcome)
        # Before counting: a staff user linked to Discord since voting is that person now.
        _votes_follow_staff_links_locked(market)
        # The staff user behind this vote: the one voting in the admin, or the one
        # linked to this Discord user (who may vote through the bot or the API).
        cast_by_user_id = cast_by_user_id or _staff_user_linked_to(voter)
        if cast_by_user_id is not None:
            _votes_follow_the_staff_user_locked(market, user_id=cast_by_user_id, voter=voter)
        vote = _round_votes(market).filter(voter=voter).first()
        if vote is not None and vote.outcome_id == (outcome.pk if outcome else None):
            raise Conflict("You already voted for that.")
        if vote is None:
            ResolutionVote.objects.create(
                market=market,
                round=vote_round(market),
                voter=voter,
                outcome=outcome,
                cast_by_user_id=cast_by_user_id,
            )
        else:
            vote.outcome = outcome
            vote.cast_by_user_id = cast_by_user_id
            vote.save(update_fields=["outcome", "cast_by_user", "updated_at"])
        count = _agreeing_votes(market, outcome)
        needed = market.min_resolution_votes
        choice = outcome.label if outcome else "cancel"
        audit_record(
            actor=actor,
            action="market.vote",
            guild_id=market.guild_id,
            target=market,
            data={
                "choice": choice,
                "votes": count,
                "needed": needed,
                "voter": voter,
                "via": vote_channel(actor),
                "correction": market.correction_count + 1 if correct else None,
            },
        )
        outbox_append(
            kind="market.vote",
            guild_id=market.guild_id,
            aggregate_type="market",
            aggregate_id=market.pk,
            payload=market_event_payload(
                market, choice=choice, votes=count, needed=needed, correction=correct
            ),
        )
        votes = _round_votes(market)  # this round's, before deciding moves the round on
        decision = resolver_decision_locked(
            market, votes=votes, outcome=outcome, count=count, needed=needed
        )
        if decision.decided:
            decided_by = decided_by_locked(market, votes=votes, outcome=outcome)
            if correct:
                correction_decide_locked(
                    market, outcome=outcome, actor=actor, now=now, decided_by=decided_by
                )
            else:
                _decide_locked(market, outcome=outcome, actor=actor, now=now, decided_by=decided_by)
    return VoteResult(
        market,
        choice,
        count,
        needed,
        decision.decided,
        decision.waiting_for_moderator,
        correction=correct,
    )


def _staff_user_linked_to(voter: str) -> int | None:
    """The staff user linked to this Discord user now, if any."""
    if not voter.startswith("discord:"):
        return None
    return (
        StaffDiscordLink.objects.filter(discord_id=int(voter.partition(":")[2]))
        .values_list("user_id", flat=True)
        .first()
    )


def _round_votes(market: Market) -> QuerySet[ResolutionVote]:
    """The votes being counted now: the first decision's, or the next correction's."""
    return ResolutionVote.objects.filter(market=market, round=vote_round(market))


def _agreeing_votes(market: Market, outcome: Outcome | None) -> int:
    """Votes for this choice, counting Discord users and unlinked staff users apart."""
    voters = _round_votes(market).filter(outcome=outcome).values_list("voter", flat=True)
    discord = sum(1 for voter in voters if voter.startswith("discord:"))
    return max(discord, len(voters) - discord)


def _votes_follow_the_staff_user_locked(market: Market, *, user_id: int, voter: str) -> None:
    """Drop a vote this staff user cast on the market as another identity.

    Their link changed since (a superuser linked them to another Discord user,
    or removed the link): that vote was theirs, and this one replaces it.
    """
    earlier = _round_votes(market).filter(cast_by_user_id=user_id).exclude(voter=voter)
    for vote in earlier:
        audit_record(
            actor="system",
            action="market.vote.replaced",
            guild_id=market.guild_id,
            target=market,
            data={"from": vote.voter, "to": voter, "staff_user": user_id},
        )
    earlier.delete()


def _votes_follow_staff_links_locked(market: Market) -> None:
    """Re-key ``user:<pk>`` votes of staff users linked to Discord since, keeping the latest.

    Without this, a staff user who voted unlinked and was then linked could count
    twice: once as ``user:<pk>`` and once as the Discord user. Runs under the
    market's lock, so no vote on the market changes meanwhile.
    """
    staff_votes = list(_round_votes(market).filter(voter__startswith="user:"))
    if not staff_votes:
        return
    links = dict(
        StaffDiscordLink.objects.filter(
            user_id__in=[int(v.voter.partition(":")[2]) for v in staff_votes]
        ).values_list("user_id", "discord_id")
    )
    for vote in staff_votes:
        discord_id = links.get(int(vote.voter.partition(":")[2]))
        if discord_id is None:
            continue
        person = discord_voter(discord_id)
        existing = _round_votes(market).filter(voter=person).first()
        if existing is not None and existing.updated_at >= vote.updated_at:
            vote.delete()
        else:
            if existing is not None:
                existing.delete()
            # update_fields without updated_at: the vote keeps the time it was cast.
            ResolutionVote.objects.filter(pk=vote.pk).update(voter=person)
        audit_record(
            actor="system",
            action="market.vote.relinked",
            guild_id=market.guild_id,
            target=market,
            data={"from": vote.voter, "to": person},
        )


def _decide_locked(
    market: Market,
    *,
    outcome: Outcome | None,
    actor: str,
    now: datetime,
    decided_by: list[dict[str, str]] | None = None,
) -> None:
    market.status = MarketStatus.RESOLVED if outcome else MarketStatus.CANCELLED
    market.winning_outcome = outcome
    market.resolved_at = now
    market.version += 1  # the row is locked (market_lock)
    market.save(update_fields=["status", "winning_outcome", "resolved_at", "version", "updated_at"])
    market_changed(market)
    action = "market.resolved" if outcome else "market.cancelled"
    data: dict[str, object] = {"winning_outcome": outcome.label if outcome else None}
    if decided_by is not None:
        # Who decided, for the announcement ("resolved by …") and the audit log.
        data["decided_by"] = decided_by
    audit_record(actor=actor, action=action, guild_id=market.guild_id, target=market, data=data)
    outbox_append(
        kind=action,
        guild_id=market.guild_id,
        aggregate_type="market",
        aggregate_id=market.pk,
        payload=market_event_payload(market, **data),
    )
    market_decided.send(sender=Market, market_id=market.pk, status=market.status)


def market_cancel(
    *,
    market_id: int,
    actor: str,
    is_moderator: bool,
    member: Member | None = None,
    guild_id: int | None = None,
) -> Market:
    """Cancel and refund: moderators, or the creator while nobody else has traded."""
    with transaction.atomic():
        market = market_lock(market_id, guild_id=guild_id)
        if not is_moderator:
            if member is None or market.creator_id != member.pk:
                raise PermissionDenied("Only moderators or the market's creator can cancel it.")
            if market.trades.exclude(member=member).exists():
                raise PermissionDenied(
                    "Others have traded on this market: only moderators can cancel it now."
                )
        if market.is_final:
            raise InvalidState(f"The market is already {market.get_status_display().lower()}.")
        _decide_locked(market, outcome=None, actor=actor, now=timezone.now())
    return market


def markets_remind_unresolved(*, now: datetime | None = None) -> list[int]:
    """Remind moderators (an outbox event, once) of markets closed 24 h without a decision."""
    now = now or timezone.now()
    reminded = []
    waiting = Market.objects.filter(
        status__in=[MarketStatus.OPEN, MarketStatus.CLOSED],
        closes_at__lte=now - REMIND_AFTER,
        reminded_at__isnull=True,
    )
    for market in waiting.select_related("guild")[:500]:
        with transaction.atomic():
            # The conditional update is the claim: two beats remind once. (No version
            # bump: no view shows reminded_at.)
            if Market.objects.filter(pk=market.pk, reminded_at__isnull=True).update(
                reminded_at=now
            ):
                outbox_append(
                    kind="market.reminder",
                    guild_id=market.guild_id,
                    aggregate_type="market",
                    aggregate_id=market.pk,
                    payload=market_event_payload(
                        market,
                        closes_at=market.closes_at.isoformat(),
                        votes_needed=market.min_resolution_votes,
                    ),
                )
                reminded.append(market.pk)
    return reminded


def market_set_discord_message(*, market_id: int, channel_id: int, message_id: int) -> None:
    """Remember where the market's live message was posted (edited on every change).

    No version bump: no cached view shows where the message is.
    """
    Market.objects.filter(pk=market_id).update(
        discord_channel_id=channel_id, discord_message_id=message_id
    )


def market_set_discord_thread(*, market_id: int, thread_id: int) -> int:
    """Remember the market's Discord thread, once; the thread id kept.

    A market never gets a second thread: when one is already recorded (a retried
    post), that one is kept and returned. No version bump: no cached view shows it.
    """
    Market.objects.filter(pk=market_id, discord_thread_id__isnull=True).update(
        discord_thread_id=thread_id
    )
    return int(Market.objects.values_list("discord_thread_id", flat=True).get(pk=market_id))

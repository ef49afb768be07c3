"""Corrections: moderators change a decided market's result within the guild's window.

A resolved, cancelled or automatically refunded market may be corrected to
another answer, or to cancel, by the same vote rule as its resolution
(``min_resolution_votes`` agreeing votes, one person one vote, cast with
``resolution_vote(..., correct=True)`` through the bot, the API or the admin).
Votes on the N-th correction are round N of the market's votes; the rounds
before are kept as the record of who decided what.

The window is counted from the market's first decision (``resolved_at``, which
a correction does not move), so a market can be corrected any number of times,
but only inside that one window; a guild's window of 0 hours turns corrections
off. Correcting a cancelled or refunded market to an answer pays that answer as
if it had been resolved so in the first place; correcting to cancel unwinds it.

Deciding a correction changes the market's status and winner here and records a
``MarketCorrection``; the money (the earlier ending reversed, the new one paid)
is moved by ``betting.corrections`` on commit, claimed once, and the sweep
retries one a lost task or a dead worker left unapplied. Until it is applied,
no further correction can be voted. Guilds that keep points at DRIP cannot
correct (taking points back at DRIP is an external write the correction does
not make): they are refused with a clear message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from markets.models import Market, MarketCorrection, MarketStatus, Outcome, ResolutionVote
from markets.signals import market_corrected
from points.models import Member, PointsBackend
from predictmarket.audit import audit_record
from predictmarket.errors import Conflict, InvalidState
from predictmarket.outbox import outbox_append


def vote_round(market: Market) -> int:
    """The round of votes being cast: 0 until decided, then N for the N-th correction."""
    return market.correction_count + 1 if market.is_final else 0


def correction_deadline(market: Market) -> datetime | None:
    """Until when the market's result may be corrected, or None when it cannot be."""
    if not market.is_final or market.resolved_at is None or not market.correction_window_hours:
        return None
    return market.resolved_at + timedelta(hours=market.correction_window_hours)


def correction_check_locked(market: Market, *, now: datetime) -> None:
    """Refuse a correction vote the market cannot take now (called under the market's lock)."""
    if not market.is_final:
        raise InvalidState("The market is not decided yet: vote for its result with /resolve.")
    if not market.correction_window_hours:
        raise InvalidState("Corrections are turned off for this market.")
    deadline = correction_deadline(market)
    if deadline is not None and now > deadline:
        raise InvalidState(
            f"The correction window of this market closed at {deadline:%Y-%m-%d %H:%M} UTC."
        )
    if market.guild.points_backend == PointsBackend.DRIP:
        raise InvalidState("Markets of a server whose points are kept at DRIP cannot be corrected.")
    pending = market.settled_at is None or (
        market.correction_count
        and MarketCorrection.objects.filter(
            market=market, number=market.correction_count, applied_at__isnull=True
        ).exists()
    )
    if pending:
        raise InvalidState(
            "The market's current result is still being paid out: try again in a minute."
        )


def correction_choice_check(market: Market, *, outcome: Outcome | None) -> None:
    """A correction must change the result: to another answer, or to cancel a resolved one."""
    if outcome is None and market.status != MarketStatus.RESOLVED:
        raise Conflict(f"The market is already {market.get_status_display().lower()}.")
    if outcome is not None and market.winning_outcome_id == outcome.pk:
        raise Conflict(f"The market is already resolved to {outcome.label}.")


def correction_decide_locked(
    market: Market,
    *,
    outcome: Outcome | None,
    actor: str,
    now: datetime,
    decided_by: list[dict[str, str]] | None = None,
) -> MarketCorrection:
    """Record the correction that this round's votes decided, and change the market's result.

    ``decided_by`` (``markets.resolvers.decided_by_locked``) names each agreeing
    voter with their role, for the announcement and the audit log.
    """
    from markets.services import market_event_payload  # markets.services imports this module
    from markets.snapshots import market_changed  # markets.snapshots imports this module

    number = market.correction_count + 1
    voters = sorted(
        ResolutionVote.objects.filter(
            market=market, round=vote_round(market), outcome=outcome
        ).values_list("voter", flat=True)
    )
    correction = MarketCorrection.objects.create(
        market=market,
        number=number,
        from_status=market.status,
        from_outcome=market.winning_outcome,
        to_status=MarketStatus.RESOLVED if outcome else MarketStatus.CANCELLED,
        to_outcome=outcome,
        decided_by=actor,
        voters=voters,
        decided_at=now,
    )
    previous = MarketCorrection.ending_label(market.status, market.winning_outcome)
    market.status = correction.to_status
    market.winning_outcome = outcome
    market.correction_count = number
    market.version += 1  # the row is locked (market_lock)
    market.save(
        update_fields=["status", "winning_outcome", "correction_count", "version", "updated_at"]
    )
    market_changed(market)
    data = {
        "correction": number,
        "from": previous,
        "to": MarketCorrection.ending_label(correction.to_status, outcome),
        "winning_outcome": outcome.label if outcome else None,
        "voters": voters,
    }
    names = voter_names(market, voters)
    data["voter_names"] = [names.get(voter, voter) for voter in voters]
    if decided_by is not None:
        data["decided_by"] = decided_by
    audit_record(
        actor=actor, action="market.corrected", guild_id=market.guild_id, target=market, data=data
    )
    outbox_append(
        kind="market.corrected",
        guild_id=market.guild_id,
        aggregate_type="market",
        aggregate_id=market.pk,
        payload=market_event_payload(market, **data),
    )
    market_corrected.send(sender=Market, market_id=market.pk, correction_id=correction.pk)
    return correction


@dataclass(frozen=True)
class HistoryStep:
    """One line of a market's history: what it became, when, and through whose votes."""

    text: str  # "resolved Yes", "corrected to cancelled"
    at: datetime | None
    by: list[str]


def market_history(market: Market) -> list[HistoryStep]:
    """The market's decisions, first to last: ``resolved Yes``, then each correction.

    Empty for a market not decided yet; a single step for one never corrected.
    """
    if not market.is_final:
        return []
    corrections = list(
        MarketCorrection.objects.filter(market=market)
        .select_related("from_outcome", "to_outcome")
        .order_by("number")
    )
    if corrections:
        status, outcome = corrections[0].from_status, corrections[0].from_outcome
    else:
        status, outcome = market.status, market.winning_outcome
    steps = [
        HistoryStep(
            MarketCorrection.ending_label(status, outcome),
            market.resolved_at,
            _first_deciders(market, status=status, outcome=outcome),
        )
    ]
    steps += [
        HistoryStep(
            "corrected to " + MarketCorrection.ending_label(c.to_status, c.to_outcome),
            c.decided_at,
            list(c.voters),
        )
        for c in corrections
    ]
    return steps


def _first_deciders(market: Market, *, status: str, outcome: Outcome | None) -> list[str]:
    """Who voted for the first decision (nobody, for an automatic refund)."""
    if status == MarketStatus.REFUNDED:
        return []
    return sorted(
        ResolutionVote.objects.filter(market=market, round=0, outcome=outcome).values_list(
            "voter", flat=True
        )
    )


def voter_names(market: Market, voters: list[str]) -> dict[str, str]:
    """Display names of the Discord users among ``voters`` who are members of the market's guild."""
    ids = [int(v.partition(":")[2]) for v in voters if v.startswith("discord:")]
    members = Member.objects.filter(guild_id=market.guild_id, discord_id__in=ids)
    return {
        f"discord:{discord_id}": name
        for discord_id, name in members.values_list("discord_id", "display_name")
        if name
    }


def history_sentence(
    market: Market,
    *,
    history: Sequence[HistoryStep] | None = None,
    names: dict[str, str] | None = None,
) -> str:
    """The history in one line: ``resolved Yes, corrected to No by alice and bob``.

    ``history`` is ``market_history(market)`` when the caller has it already (a
    snapshot build loads it once for both).
    """
    if history is None:
        history = market_history(market)
    if names is None:
        names = voter_names(market, [voter for step in history for voter in step.by])
    parts = []
    for n, step in enumerate(history):
        if n == 0:
            parts.append(step.text)
            continue
        who = [names.get(voter, voter) for voter in step.by]
        parts.append(f"{step.text} by {' and '.join(who)}" if who else step.text)
    return ", ".join(parts)

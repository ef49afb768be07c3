"""Clarifying a market's description; every version is kept.

Who may edit: the market's creator while nobody else has traded on it, and
moderators at any time until the market is decided. The question and the
answers never change through here (nor anywhere once anyone has traded: the
admin shows them read-only, and no API or bot command edits them).

``Market.description`` always holds the latest text; ``DescriptionVersion``
rows keep the history. The first edit stores the text the market was created
with as version 1, then the new text as version 2, and so on — a market never
edited has no rows. Each edit is in the audit log and is an outbox event, so
the market's live message shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from markets.models import DescriptionVersion, Market
from markets.services import market_event_payload, market_lock
from markets.snapshots import market_changed
from markets.validation import DESCRIPTION_MAX
from points.models import Member
from predictmarket.audit import audit_record
from predictmarket.errors import Conflict, InvalidState, PermissionDenied, ValidationFailed
from predictmarket.outbox import outbox_append


def market_description_edit(
    *,
    market_id: int,
    description: str,
    actor: str,
    is_moderator: bool,
    member: Member | None = None,
    actor_name: str = "",
    guild_id: int | None = None,
) -> Market:
    """Replace the description with a clarified one, keeping every earlier version."""
    text = (description or "").strip()
    if len(text) > DESCRIPTION_MAX:
        raise ValidationFailed(
            f"The description must be at most {DESCRIPTION_MAX} characters (it has {len(text)}).",
            field="description",
        )
    now = timezone.now()
    with transaction.atomic():
        # Under the market's lock: no trade lands between the check and the edit.
        market = market_lock(market_id, guild_id=guild_id)
        if market.is_final:
            raise InvalidState(
                f"The market is already {market.get_status_display().lower()}: "
                "its description can no longer change."
            )
        if not is_moderator:
            if member is None or market.creator_id != member.pk:
                raise PermissionDenied(
                    "Only moderators or the market's creator can edit its description."
                )
            if market.trades.exclude(member=member).exists():
                raise PermissionDenied(
                    "Others have traded on this market: only moderators can clarify it now."
                )
        if text == market.description:
            raise Conflict("The description already says that.")
        last = market.description_versions.aggregate(n=Max("number"))["n"]
        if last is None:
            # The text the market was created with is version 1.
            DescriptionVersion.objects.create(
                market=market,
                number=1,
                text=market.description,
                edited_by="creator",
                edited_by_name=market.creator.display_name,
                created_at=market.created_at,
            )
            last = 1
        number = last + 1
        DescriptionVersion.objects.create(
            market=market,
            number=number,
            text=text,
            edited_by=actor,
            edited_by_name=actor_name[:100],
            created_at=now,
        )
        before = market.description
        market.description = text
        market.version += 1  # the row is locked (market_lock)
        market.save(update_fields=["description", "version", "updated_at"])
        market_changed(market, roster=False)
        audit_record(
            actor=actor,
            action="market.description.edit",
            guild_id=market.guild_id,
            target=market,
            data={"version": number, "before": before, "after": text},
        )
        outbox_append(
            kind="market.description_edited",
            guild_id=market.guild_id,
            aggregate_type="market",
            aggregate_id=market.pk,
            payload=market_event_payload(market, version=number),
        )
    return market


@dataclass(frozen=True)
class DescriptionEntry:
    number: int
    text: str
    by: str  # a name to show
    at: datetime


def description_history(market: Market) -> list[DescriptionEntry]:
    """Every version, oldest first; empty when the description was never edited."""
    return [
        DescriptionEntry(
            v.number, v.text, v.edited_by_name or _actor_label(v.edited_by), v.created_at
        )
        for v in DescriptionVersion.objects.filter(market=market).order_by("number")
    ]


def _actor_label(actor: str) -> str:
    if actor.startswith("admin:"):
        return f"staff user {actor.partition(':')[2]}"
    if actor == "creator":
        return "the creator"
    return "a moderator"

"""A description can be clarified: by its creator until anyone else trades, by moderators
until the market is decided. Every version is kept, each edit is audited; the question and
the answers never change."""

from __future__ import annotations

from markets.descriptions import description_history, market_description_edit
from markets.models import DescriptionVersion, Market
from points.models import Member
from predictmarket.errors import Conflict, InvalidState, PermissionDenied, ValidationFailed
from predictmarket.models import AuditLogEntry, OutboxEvent
from tests.betting.helpers import bet
from tests.markets.helpers import MODERATORS, decide, make_market, money_state, refused


def _edit(market: Market, text: str, *, by: Member | None, moderator: bool = False) -> Market:
    return market_description_edit(
        market_id=market.pk,
        description=text,
        actor=MODERATORS[0] if moderator else f"discord:{by.discord_id}",
        actor_name="mod" if moderator else by.display_name,
        is_moderator=moderator,
        member=by,
        guild_id=market.guild_id,
    )


def test_the_creator_clarifies_before_anyone_else_trades(creator: Member) -> None:
    market = make_market(creator, description="Counted on the 1st.")
    bet(creator, market, 0, 20)  # the creator's own trade does not lock them out

    _edit(market, "Counted on the 1st, at noon UTC.", by=creator)

    market.refresh_from_db()
    assert market.description == "Counted on the 1st, at noon UTC."
    assert market.question == "Will the server reach 1,000 members this month?"
    history = description_history(market)
    assert [(v.number, v.text, v.by) for v in history] == [
        (1, "Counted on the 1st.", "creator"),
        (2, "Counted on the 1st, at noon UTC.", "creator"),
    ]
    audit = AuditLogEntry.objects.get(action="market.description.edit", target_id=str(market.pk))
    assert audit.data == {
        "version": 2,
        "before": "Counted on the 1st.",
        "after": "Counted on the 1st, at noon UTC.",
    }
    assert OutboxEvent.objects.filter(
        kind="market.description_edited", aggregate_id=market.pk
    ).exists()


def test_the_creator_may_not_edit_once_someone_else_traded(creator: Member, bettor: Member) -> None:
    market = make_market(creator, description="Original.")
    bet(bettor, market, 1, 20)
    before = money_state()

    with refused(PermissionDenied) as info:
        _edit(market, "Changed after a trade.", by=creator)

    assert "moderators" in info.value.message
    assert money_state() == before
    market.refresh_from_db()
    assert market.description == "Original."
    assert not DescriptionVersion.objects.filter(market=market).exists()


def test_a_moderator_clarifies_after_trades_and_every_version_is_kept(
    creator: Member, bettor: Member
) -> None:
    market = make_market(creator, description="")
    bet(bettor, market, 1, 20)

    _edit(market, "First clarification.", by=None, moderator=True)
    _edit(market, "Second clarification.", by=None, moderator=True)

    market.refresh_from_db()
    assert market.description == "Second clarification."
    assert [v.text for v in description_history(market)] == [
        "",
        "First clarification.",
        "Second clarification.",
    ]
    assert AuditLogEntry.objects.filter(action="market.description.edit").count() == 2


def test_nobody_else_may_edit(creator: Member, bettor: Member) -> None:
    market = make_market(creator)
    with refused(PermissionDenied):
        _edit(market, "Hijacked.", by=bettor)


def test_a_decided_market_keeps_its_description(creator: Member) -> None:
    market = decide(make_market(creator, description="Final."), outcome_index=0)
    before = money_state()

    with refused(InvalidState):
        _edit(market, "Too late.", by=None, moderator=True)

    assert money_state() == before


def test_bad_descriptions_change_nothing(creator: Member) -> None:
    market = make_market(creator, description="Same.")
    before = money_state()

    with refused(ValidationFailed):
        _edit(market, "x" * 2001, by=creator)
    with refused(Conflict):
        _edit(market, "  Same.  ", by=creator)

    assert money_state() == before

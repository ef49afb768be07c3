"""A frozen member cannot move points until a moderator unfreezes them."""

from __future__ import annotations

import pytest

from points.models import Member
from points.services import member_get, member_set_frozen, points_daily_claim, points_transfer
from predictmarket.errors import AccountFrozen, InvalidState
from tests.factories import balance_of, refused, snapshot


@pytest.fixture
def frozen_member(member: Member, moderator: str) -> Member:
    member_set_frozen(member=member, frozen=True, reason="suspected alt", actor=moderator)
    return member_get(guild_id=member.guild_id, discord_id=member.discord_id)


def test_it_refuses_transfer_from_frozen_member(
    frozen_member: Member, other_member: Member
) -> None:
    before = snapshot()
    with refused(AccountFrozen):
        points_transfer(
            sender=frozen_member, recipient=other_member, amount=10, idempotency_key="frozen-tip"
        )
    assert snapshot() == before


def test_it_refuses_transfer_from_a_member_frozen_after_they_were_loaded(
    member: Member, other_member: Member, moderator: str
) -> None:
    """The bot loads the member, a moderator freezes them, then the tip arrives."""
    loaded = member_get(guild_id=member.guild_id, discord_id=member.discord_id)
    member_set_frozen(member=member, frozen=True, reason="suspected alt", actor=moderator)
    before = snapshot()
    with refused(AccountFrozen):
        points_transfer(sender=loaded, recipient=other_member, amount=10, idempotency_key="stale")
    assert snapshot() == before


def test_it_refuses_daily_claim_from_frozen_member(frozen_member: Member) -> None:
    before = snapshot()
    with refused(AccountFrozen):
        points_daily_claim(member=frozen_member)
    assert snapshot() == before


def test_it_lets_an_unfrozen_member_transfer_again(
    frozen_member: Member, other_member: Member, moderator: str
) -> None:
    thawed = member_set_frozen(
        member=frozen_member, frozen=False, reason="appeal accepted", actor=moderator
    )
    start = balance_of(thawed)
    points_transfer(sender=thawed, recipient=other_member, amount=10, idempotency_key="ok")
    assert balance_of(thawed) == start - 10


def test_it_refuses_to_freeze_a_frozen_member(frozen_member: Member, moderator: str) -> None:
    before = snapshot()
    with refused(InvalidState):
        member_set_frozen(member=frozen_member, frozen=True, reason="again", actor=moderator)
    assert snapshot() == before


def test_it_refuses_to_unfreeze_a_member_who_is_not_frozen(member: Member, moderator: str) -> None:
    before = snapshot()
    with refused(InvalidState):
        member_set_frozen(member=member, frozen=False, reason="oops", actor=moderator)
    assert snapshot() == before

"""Amounts are whole, positive points; anything else is refused and nothing is written."""

from __future__ import annotations

from decimal import Decimal

import pytest

from points.models import Member
from points.services import MAX_AMOUNT, points_deduct, points_grant, points_transfer
from predictmarket.errors import ValidationFailed
from tests.factories import balance_of, refused, snapshot

NOT_WHOLE_POINTS = [
    pytest.param(1.5, id="float"),
    pytest.param(10.0, id="integral-float"),
    pytest.param(Decimal("5"), id="decimal"),
    pytest.param("abc", id="letters"),
    pytest.param("1e3", id="exponent"),
    pytest.param("12.5", id="decimal-string"),
    pytest.param("", id="empty-string"),
    pytest.param(None, id="none"),
    pytest.param(True, id="bool"),
    pytest.param("²", id="superscript-digit"),
    pytest.param("9" * 5000, id="5000-digit-string"),
]
NOT_POSITIVE = [
    pytest.param(0, id="zero"),
    pytest.param(-1, id="negative"),
    pytest.param("0", id="zero-string"),
    pytest.param("-5", id="negative-string"),
    pytest.param("--5", id="double-minus-string"),
]
TOO_LARGE = [
    pytest.param(MAX_AMOUNT + 1, id="max-plus-one"),
    pytest.param(2**63, id="2**63"),
    pytest.param(10**30, id="10**30"),
    pytest.param(str(2**63 - 1), id="bigint-max-string"),
]
BAD_AMOUNTS = NOT_WHOLE_POINTS + NOT_POSITIVE + TOO_LARGE


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_it_rejects_transfer_of_bad_amount(
    member: Member, other_member: Member, amount: object
) -> None:
    before = snapshot()
    with refused(ValidationFailed) as info:
        points_transfer(sender=member, recipient=other_member, amount=amount, idempotency_key="t1")
    assert info.value.details == {"field": "amount"}
    assert snapshot() == before


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_it_rejects_grant_of_bad_amount(member: Member, moderator: str, amount: object) -> None:
    before = snapshot()
    with refused(ValidationFailed):
        points_grant(member=member, amount=amount, reason="event prize", actor=moderator)
    assert snapshot() == before


@pytest.mark.parametrize("amount", BAD_AMOUNTS)
def test_it_rejects_deduction_of_bad_amount(member: Member, moderator: str, amount: object) -> None:
    before = snapshot()
    with refused(ValidationFailed):
        points_deduct(member=member, amount=amount, reason="spam", actor=moderator)
    assert snapshot() == before


def test_it_accepts_an_amount_typed_as_digits(member: Member, other_member: Member) -> None:
    """Slash-command options and form fields arrive as text."""
    start = balance_of(member)
    result = points_transfer(
        sender=member, recipient=other_member, amount=" 25 ", idempotency_key="typed"
    )
    assert result.amount == 25
    assert balance_of(member) == start - 25
    assert balance_of(other_member) == start + 25


def test_it_accepts_a_grant_of_the_largest_amount(member: Member, moderator: str) -> None:
    start = balance_of(member)
    points_grant(member=member, amount=MAX_AMOUNT, reason="jackpot", actor=moderator)
    assert balance_of(member) == start + MAX_AMOUNT

"""A member's history pages newest first, and pages stay stable while new entries arrive."""

from __future__ import annotations

from points.models import Member
from points.selectors import member_history
from points.services import points_grant, points_transfer


def _amounts(member: Member, **kwargs: object) -> tuple[list[int], int | None]:
    page = member_history(member, **kwargs)  # type: ignore[arg-type]
    return [entry.amount for entry in page.entries], page.next_before


def test_it_pages_history_newest_first_until_the_end(member: Member, moderator: str) -> None:
    starting = member.guild.starting_balance
    for amount in range(1, 7):
        points_grant(member=member, amount=amount, reason=f"grant {amount}", actor=moderator)

    first, cursor = _amounts(member, limit=3)
    assert first == [6, 5, 4]
    assert cursor is not None
    second, cursor = _amounts(member, limit=3, before=cursor)
    assert second == [3, 2, 1]
    assert cursor is not None
    third, cursor = _amounts(member, limit=3, before=cursor)
    assert third == [starting]
    assert cursor is None


def test_it_says_there_is_no_next_page_when_the_page_is_exactly_full(
    member: Member, moderator: str
) -> None:
    points_grant(member=member, amount=5, reason="r", actor=moderator)
    amounts, cursor = _amounts(member, limit=2)
    assert len(amounts) == 2
    assert cursor is None


def test_it_keeps_older_pages_stable_when_new_entries_arrive(
    member: Member, moderator: str
) -> None:
    for amount in range(1, 7):
        points_grant(member=member, amount=amount, reason="r", actor=moderator)
    first, cursor = _amounts(member, limit=3)
    points_grant(member=member, amount=99, reason="arrived while reading", actor=moderator)
    second, _ = _amounts(member, limit=3, before=cursor)
    assert first == [6, 5, 4]
    assert second == [3, 2, 1]  # no entry repeated or skipped


def test_it_shows_only_the_member_own_entries_with_balance_after(
    member: Member, other_member: Member
) -> None:
    starting = member.guild.starting_balance
    points_transfer(sender=member, recipient=other_member, amount=30, idempotency_key="h1")
    points_transfer(sender=other_member, recipient=member, amount=10, idempotency_key="h2")

    page = member_history(member)
    assert [(e.amount, e.balance_after) for e in page.entries] == [
        (10, starting - 20),
        (-30, starting - 30),
        (starting, starting),
    ]
    assert [e.transaction.kind for e in page.entries] == ["transfer", "transfer", "grant"]
    other = member_history(other_member)
    assert [e.amount for e in other.entries] == [-10, 30, starting]


def test_it_caps_the_page_size_at_100(member: Member, moderator: str) -> None:
    for amount in range(1, 106):
        points_grant(member=member, amount=amount, reason="r", actor=moderator)
    page = member_history(member, limit=1000)
    assert len(page.entries) == 100
    assert page.next_before is not None

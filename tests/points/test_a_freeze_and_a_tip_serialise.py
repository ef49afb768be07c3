"""A freeze and a tip from the same member serialise: no tip commits after the freeze.

Before, ``points_transfer`` read ``is_frozen`` before posting, without a lock
the freeze also takes: a freeze could commit between that read and the
posting, and the tip was sent from a frozen account. Now the tip locks both
accounts and reads the freeze under that lock, and the freeze locks the
member's account too. PostgreSQL with real transactions and a second connection.
"""

from __future__ import annotations

from typing import Any

import pytest

from points import services
from points.models import LedgerTransaction, Member
from points.services import member_set_frozen, points_transfer
from tests.concurrency import Background, start_until_blocked
from tests.factories import balance_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_a_freeze_made_while_a_tip_is_being_posted_waits_for_the_tip(
    member: Member, other_member: Member, moderator: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    freezes: list[Background] = []
    ledger_post = services.ledger_post

    def freeze() -> bool:
        member_set_frozen(member=member, frozen=True, reason="suspected alt", actor=moderator)
        return LedgerTransaction.objects.filter(idempotency_key="racing-tip").exists()

    def post_after_a_moderator_froze(**kwargs: Any) -> Any:
        freezes.append(start_until_blocked(freeze))
        return ledger_post(**kwargs)

    start = balance_of(member)
    monkeypatch.setattr(services, "ledger_post", post_after_a_moderator_froze)
    points_transfer(sender=member, recipient=other_member, amount=25, idempotency_key="racing-tip")

    [background] = freezes
    outcome = background.result()
    assert outcome.error is None, outcome.error
    assert outcome.value, "the tip committed after the freeze had committed"
    assert balance_of(member) == start - 25
    assert Member.objects.get(pk=member.pk).is_frozen

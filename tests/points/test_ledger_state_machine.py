"""The ledger against a simple Python model, under random sequences of operations.

Hypothesis drives grants, daily claims (moving the clock forward), transfers,
deductions and replays of earlier request ids, honest or tampered. After every
step each member's balance must equal the model's, and the ledger must sum to
zero with every cached balance equal to the sum of its entries.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from points.models import Account, AccountKind, Member
from points.services import (
    DailyNotReady,
    house_account,
    points_daily_claim,
    points_deduct,
    points_grant,
    points_transfer,
)
from predictmarket.errors import (
    DomainError,
    IdempotencyConflict,
    InsufficientPoints,
    ValidationFailed,
)
from tests.factories import GuildFactory, MemberFactory, ledger_problems

MEMBERS = 3
START = datetime(2030, 1, 1, 8, 0, tzinfo=UTC)
MODERATOR = "discord:555000000000000001"
member_index = st.integers(min_value=0, max_value=MEMBERS - 1)


@dataclass(frozen=True)
class Posted:
    """An accepted operation, kept so a later step can replay its request id."""

    service: Callable[..., Any]
    kwargs: dict[str, Any]
    transaction_id: int


def _transaction_id(result: Any) -> int:
    return result.transaction_id if hasattr(result, "transaction_id") else result.pk


def _call(service: Callable[..., Any], **kwargs: Any) -> Any:
    # One transaction per call, as the bot and the API make them.
    with transaction.atomic():
        return service(**kwargs)


def _refused(service: Callable[..., Any], **kwargs: Any) -> DomainError:
    try:
        _call(service, **kwargs)
    except DomainError as error:
        return error
    raise AssertionError(f"{service.__name__} accepted {kwargs}")


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.traveller = time_machine.travel(START, tick=False)
        self.clock = self.traveller.start()
        self.now = START
        guild = GuildFactory()  # a fresh guild per example: examples share one database
        self.members: list[Member] = [MemberFactory(guild=guild) for _ in range(MEMBERS)]
        self.guild_id = guild.pk
        self.daily_amount = guild.daily_amount
        self.model = [guild.starting_balance] * MEMBERS
        self.last_daily: list[datetime | None] = [None] * MEMBERS
        self.posted: list[Posted] = []
        self.keys = itertools.count()

    def teardown(self) -> None:
        self.traveller.stop()

    def _key(self) -> str:
        return f"sm:{self.guild_id}:{next(self.keys)}"

    def _accept(self, service: Callable[..., Any], **kwargs: Any) -> None:
        result = _call(service, **kwargs)
        self.posted.append(Posted(service, kwargs, _transaction_id(result)))

    @rule(who=member_index, amount=st.integers(min_value=1, max_value=500))
    def grant(self, who: int, amount: int) -> None:
        self._accept(
            points_grant,
            member=self.members[who],
            amount=amount,
            reason="prize",
            actor=MODERATOR,
            idempotency_key=self._key(),
        )
        self.model[who] += amount

    @rule(who=member_index, amount=st.integers(min_value=1, max_value=1500))
    def deduct(self, who: int, amount: int) -> None:
        kwargs = {
            "member": self.members[who],
            "amount": amount,
            "reason": "penalty",
            "actor": MODERATOR,
            "idempotency_key": self._key(),
        }
        if amount > self.model[who]:
            assert isinstance(_refused(points_deduct, **kwargs), InsufficientPoints)
        else:
            self._accept(points_deduct, **kwargs)
            self.model[who] -= amount

    @rule(who=member_index, hours=st.integers(min_value=0, max_value=30))
    def daily(self, who: int, hours: int) -> None:
        self.clock.shift(timedelta(hours=hours))
        self.now += timedelta(hours=hours)
        kwargs = {"member": self.members[who], "idempotency_key": self._key()}
        last = self.last_daily[who]
        if last is not None and self.now < last + timedelta(hours=24):
            assert isinstance(_refused(points_daily_claim, **kwargs), DailyNotReady)
        else:
            self._accept(points_daily_claim, **kwargs)
            self.model[who] += self.daily_amount
            self.last_daily[who] = self.now

    @rule(sender=member_index, recipient=member_index, amount=st.integers(1, 1500))
    def transfer(self, sender: int, recipient: int, amount: int) -> None:
        kwargs = {
            "sender": self.members[sender],
            "recipient": self.members[recipient],
            "amount": amount,
            "idempotency_key": self._key(),
        }
        if sender == recipient:
            assert isinstance(_refused(points_transfer, **kwargs), ValidationFailed)
        elif amount > self.model[sender]:
            assert isinstance(_refused(points_transfer, **kwargs), InsufficientPoints)
        else:
            self._accept(points_transfer, **kwargs)
            self.model[sender] -= amount
            self.model[recipient] += amount

    @precondition(lambda self: self.posted)
    @rule(pick=st.integers(min_value=0), tampered=st.booleans())
    def replay(self, pick: int, tampered: bool) -> None:
        earlier = self.posted[pick % len(self.posted)]
        kwargs = dict(earlier.kwargs)
        if not tampered:
            result = _call(earlier.service, **kwargs)
            assert _transaction_id(result) == earlier.transaction_id
            return
        if earlier.service is points_daily_claim:
            others = [m for m in self.members if m.pk != kwargs["member"].pk]
            kwargs["member"] = others[0]  # someone else's claim id
        else:
            kwargs["amount"] += 1
        assert isinstance(_refused(earlier.service, **kwargs), IdempotencyConflict)

    @invariant()
    def balances_match_the_model(self) -> None:
        stored = dict(
            Account.objects.filter(guild_id=self.guild_id, kind=AccountKind.MEMBER).values_list(
                "member_id", "balance"
            )
        )
        assert [stored[m.pk] for m in self.members] == self.model
        assert house_account(self.guild_id).balance == -sum(self.model)

    @invariant()
    def ledger_sums_to_zero(self) -> None:
        assert ledger_problems() == []


@pytest.mark.django_db
def test_the_ledger_matches_a_simple_model_under_random_operations() -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            database=None,  # no example database written into the working tree
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )

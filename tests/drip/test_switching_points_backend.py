"""A guild switches points backend only when no stake and no DRIP transfer is in flight.

Stakes paid in local points must come back as local points, and DRIP stakes as
DRIP credits; so the switch waits until every market is settled or refunded
and every transfer is delivered. Moderator grants and deducts are DRIP's own
business in a DRIP guild.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone

from betting.settlement import settle_resolved_market
from markets.models import Market
from markets.services import market_close, market_create, resolution_vote
from points.drip.services import (
    deliver_pending_transfers,
    drip_queue_credit,
    guild_connect_drip,
    guild_use_local_points,
)
from points.models import DripTransfer, DripTransferStatus, Guild, Member, PointsBackend
from points.services import points_deduct, points_grant
from predictmarket.errors import InvalidState
from tests.drip.fake_drip import FakeDrip
from tests.drip.test_drip_admin import _form
from tests.factories import MemberFactory


def _market(creator: Member, question: str = "Will we switch?") -> Market:
    return market_create(
        creator=creator,
        question=question,
        options=["Yes", "No"],
        duration=timedelta(hours=1),
        actor="test",
        bypass_rate_limit=True,
    )


def _connect(guild: Guild, fake_drip: FakeDrip) -> Guild:
    return guild_connect_drip(
        guild_id=guild.pk,
        realm_id=fake_drip.realm_id,
        api_key=fake_drip.api_key,
        currency_id=fake_drip.currency_id,
        actor="admin:test",
    )


def _backend(guild: Guild) -> str:
    guild.refresh_from_db()
    return guild.points_backend


@pytest.mark.django_db
def test_connecting_drip_is_refused_while_local_markets_are_not_settled(
    guild: Guild, member: Member, fake_drip: FakeDrip
) -> None:
    open_one, closed_one, resolved_one = (_market(member, f"Question {n}?") for n in range(3))
    market_close(market_id=closed_one.pk, actor="mod")
    market_close(market_id=resolved_one.pk, actor="mod")
    resolution_vote(market_id=resolved_one.pk, voter="discord:730000000000000001", outcome_index=0)
    resolution_vote(
        market_id=resolved_one.pk, voter="discord:730000000000000002", outcome_index=0
    )  # not settled yet

    with pytest.raises(InvalidState) as refused:
        _connect(guild, fake_drip)

    ids = ", ".join(f"#{m.pk}" for m in (open_one, closed_one, resolved_one))
    assert f"3 markets are not settled yet: {ids}" in refused.value.message
    assert _backend(guild) == PointsBackend.LOCAL
    assert not guild.drip_api_key_encrypted

    settle_resolved_market(market_id=resolved_one.pk)
    with pytest.raises(InvalidState, match="2 markets are not settled yet"):
        _connect(guild, fake_drip)


@pytest.mark.django_db
def test_connecting_drip_is_allowed_once_every_market_is_settled(
    guild: Guild, member: Member, fake_drip: FakeDrip
) -> None:
    market = _market(member)
    market_close(market_id=market.pk, actor="mod")
    resolution_vote(market_id=market.pk, voter="discord:730000000000000001", outcome_index=0)
    resolution_vote(market_id=market.pk, voter="discord:730000000000000002", outcome_index=0)
    settle_resolved_market(market_id=market.pk)

    assert _connect(guild, fake_drip).points_backend == PointsBackend.DRIP


@pytest.mark.django_db
def test_going_back_to_local_points_is_refused_while_drip_markets_are_open(
    drip_guild: Guild, fake_drip: FakeDrip
) -> None:
    member = MemberFactory(guild=drip_guild)
    market = _market(member)

    with pytest.raises(InvalidState, match=f"1 market is not settled yet: #{market.pk}"):
        guild_use_local_points(guild_id=drip_guild.pk, actor="admin:test")
    assert _backend(drip_guild) == PointsBackend.DRIP


@pytest.mark.django_db
def test_changing_the_drip_realm_is_refused_while_a_market_is_open(
    drip_guild: Guild, fake_drip: FakeDrip
) -> None:
    _market(MemberFactory(guild=drip_guild))

    with pytest.raises(InvalidState, match="not settled yet"):
        guild_connect_drip(
            guild_id=drip_guild.pk, realm_id="f" * 24, api_key=None, actor="admin:test"
        )
    drip_guild.refresh_from_db()
    assert drip_guild.drip_realm_id == fake_drip.realm_id
    # A new API key for the same realm changes where nothing goes: allowed.
    guild_connect_drip(
        guild_id=drip_guild.pk,
        realm_id=fake_drip.realm_id,
        api_key=fake_drip.api_key,
        currency_id=fake_drip.currency_id,
        actor="admin:test",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    "status", [DripTransferStatus.PENDING, DripTransferStatus.SENDING, DripTransferStatus.AMBIGUOUS]
)
def test_going_back_to_local_points_waits_for_drip_transfers(
    status: str, drip_guild: Guild, fake_drip: FakeDrip
) -> None:
    member = MemberFactory(guild=drip_guild)
    fake_drip.add_member(member.discord_id, 10)
    for n in range(2):
        drip_queue_credit(
            member=member, guild_id=drip_guild.pk, amount=5, purpose="payout", key=f"payout:{n}"
        )
    DripTransfer.objects.filter(idempotency_key="payout:1").update(status=status)

    with pytest.raises(InvalidState, match="2 DRIP transfers are not delivered yet"):
        guild_use_local_points(guild_id=drip_guild.pk, actor="admin:test")
    assert _backend(drip_guild) == PointsBackend.DRIP


@pytest.mark.django_db
def test_going_back_to_local_points_once_everything_is_delivered(
    drip_guild: Guild, fake_drip: FakeDrip
) -> None:
    member = MemberFactory(guild=drip_guild)
    fake_drip.add_member(member.discord_id, 10)
    drip_queue_credit(member=member, guild_id=drip_guild.pk, amount=5, purpose="payout", key="p:1")
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        deliver_pending_transfers()

    guild_use_local_points(guild_id=drip_guild.pk, actor="admin:test")
    assert _backend(drip_guild) == PointsBackend.LOCAL
    assert fake_drip.balance(member.discord_id) == 15


@pytest.mark.django_db
def test_moderator_grants_and_deducts_are_refused_in_a_drip_guild(drip_guild: Guild) -> None:
    member = MemberFactory(guild=drip_guild)

    with pytest.raises(InvalidState, match="DRIP"):
        points_grant(member=member, amount=50, reason="quiz", actor="discord:1")
    with pytest.raises(InvalidState, match="DRIP"):
        points_deduct(member=member, amount=50, reason="spam", actor="discord:1")
    assert member.account.balance == 0
    assert not member.account.entries.exists()


@pytest.mark.django_db
def test_the_admin_says_why_a_switch_is_refused_and_changes_nothing(
    guild: Guild, member: Member, fake_drip: FakeDrip
) -> None:
    market = _market(member)
    staff = Client()
    staff.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))

    response = staff.post(
        f"/admin/points/guild/{guild.pk}/change/",
        _form(
            guild,
            points_backend="drip",
            drip_realm_id=fake_drip.realm_id,
            drip_api_key="secret-drip-key-1234",
            fee_bps=25,
        ),
        follow=True,
    )

    assert response.status_code == 200
    assert f"1 market is not settled yet: #{market.pk}" in response.content.decode()
    guild.refresh_from_db()
    assert (guild.points_backend, guild.fee_bps, guild.drip_api_key_encrypted) == ("local", 0, "")

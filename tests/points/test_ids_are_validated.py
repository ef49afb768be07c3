"""Guild and member ids must be Discord snowflakes; anything else creates nothing."""

from __future__ import annotations

import pytest

from points.models import Guild
from points.services import member_ensure, member_get
from predictmarket.errors import ValidationFailed
from tests.factories import refused, snapshot

NOT_SNOWFLAKES = [
    pytest.param("12ab", id="digits-and-letters"),
    pytest.param("abc", id="letters"),
    pytest.param("", id="empty"),
    pytest.param("   ", id="blank"),
    pytest.param(0, id="zero"),
    pytest.param("0", id="zero-string"),
    pytest.param(-5, id="negative"),
    pytest.param("-5", id="negative-string"),
    pytest.param(2**63, id="above-bigint"),
    pytest.param(str(2**63), id="above-bigint-string"),
    pytest.param(True, id="true"),
    pytest.param(False, id="false"),
    pytest.param(1.0, id="integral-float"),
    pytest.param(12.5, id="float"),
    pytest.param(None, id="none"),
    pytest.param("١٢٣", id="arabic-indic-digits"),
    pytest.param("\uff11\uff12\uff13", id="fullwidth-digits"),
    pytest.param(__import__("decimal").Decimal("1.5"), id="decimal"),
]


@pytest.mark.parametrize("bad_id", NOT_SNOWFLAKES)
def test_it_rejects_member_with_non_snowflake_id(guild: Guild, bad_id: object) -> None:
    before = snapshot()
    with refused(ValidationFailed) as info:
        member_ensure(guild_id=guild.pk, discord_id=bad_id)
    assert info.value.details == {"field": "member id"}
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("bad_id", NOT_SNOWFLAKES)
def test_it_rejects_guild_with_non_snowflake_id(bad_id: object) -> None:
    before = snapshot()
    with refused(ValidationFailed) as info:
        member_ensure(guild_id=bad_id, discord_id=300_000_000_000_000_999)
    assert info.value.details == {"field": "guild id"}
    assert snapshot() == before


@pytest.mark.parametrize("bad_id", NOT_SNOWFLAKES)
def test_it_rejects_lookup_with_non_snowflake_id(guild: Guild, bad_id: object) -> None:
    with refused(ValidationFailed):
        member_get(guild_id=guild.pk, discord_id=bad_id)


def test_it_accepts_the_largest_snowflake(guild: Guild) -> None:
    member = member_ensure(guild_id=guild.pk, discord_id=str(2**63 - 1))
    assert member.discord_id == 2**63 - 1
    assert member.account.balance == guild.starting_balance

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from points.drip import client as drip_client
from points.drip.services import guild_connect_drip
from points.models import Guild
from tests.drip.fake_drip import FakeDrip


@pytest.fixture
def fake_drip(settings) -> Iterator[FakeDrip]:  # type: ignore[no-untyped-def]
    # A realm of its own per test: the breaker's state lives in Redis under the
    # realm's name, so tests never share a breaker.
    fake = FakeDrip(realm_id=secrets.token_hex(12))
    settings.DRIP_API_BASE_URL = fake.start()
    settings.DRIP_TIMEOUT_SECONDS = 0.5
    settings.DRIP_MAX_ATTEMPTS = 3
    settings.DRIP_BREAKER_FAILURES = 3
    # Long enough that slow retries never see it half-open; tests move the clock past it.
    settings.DRIP_BREAKER_RESET_SECONDS = 600
    settings.DRIP_MAX_RETRY_AFTER_SECONDS = 1
    settings.DRIP_BALANCE_CACHE_SECONDS = 0
    drip_client._breakers.clear()  # each test starts with DRIP "up"
    yield fake
    fake.stop()
    drip_client._breakers.clear()


@pytest.fixture
def drip_guild(guild: Guild, fake_drip: FakeDrip) -> Guild:
    return guild_connect_drip(
        guild_id=guild.pk,
        realm_id=fake_drip.realm_id,
        api_key=fake_drip.api_key,
        currency_id=fake_drip.currency_id,
        actor="admin:test",
    )

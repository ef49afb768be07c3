"""/apikey gives a member a private key once; /config drip connects the server to DRIP."""

from __future__ import annotations

import re
import secrets

import pytest

from botrunner.cogs.config import config_drip_command, config_local_command
from botrunner.cogs.points import apikey_command, balance_command
from points.api_tokens import api_token_authenticate
from points.models import ApiToken, Guild, PointsBackend
from tests.botrunner.conftest import member_for, run
from tests.drip.fake_drip import FakeDrip

pytestmark = pytest.mark.django_db(transaction=True)
KEY = re.compile(r"pm_[0-9a-f]{12}_[A-Za-z0-9_-]+")


def test_apikey_replies_privately_with_a_working_key(slash, guild, alice, moderator) -> None:
    interaction = slash(alice)
    run(apikey_command(interaction))
    assert interaction.last.ephemeral
    key = KEY.search(interaction.last.text).group(0)
    token = api_token_authenticate(key)
    assert token is not None and token.member == member_for(alice, guild)
    assert not token.issued_by_moderator
    mod = slash(moderator)
    run(apikey_command(mod))
    assert api_token_authenticate(KEY.search(mod.last.text).group(0)).issued_by_moderator
    assert "check your Discord roles at each use" in mod.last.text


def test_a_new_key_replaces_the_old_and_revoke_ends_it(slash, guild, alice) -> None:
    first = slash(alice)
    run(apikey_command(first))
    second = slash(alice)
    run(apikey_command(second))
    old, new = (KEY.search(i.last.text).group(0) for i in (first, second))
    assert api_token_authenticate(old) is None and api_token_authenticate(new) is not None
    revoke = slash(alice)
    run(apikey_command(revoke, revoke=True))
    assert "revoked" in revoke.last.text
    assert api_token_authenticate(new) is None
    assert ApiToken.objects.filter(revoked_at__isnull=True).count() == 0


@pytest.fixture
def fake_drip(settings):  # type: ignore[no-untyped-def]
    from points.drip import client

    fake = FakeDrip(realm_id=secrets.token_hex(12))  # its own breaker (kept in Redis)
    settings.DRIP_API_BASE_URL = fake.start()
    settings.DRIP_BALANCE_CACHE_SECONDS = 0
    client._breakers.clear()
    yield fake
    fake.stop()
    client._breakers.clear()


def test_config_drip_connects_and_balance_then_comes_from_drip(
    slash, guild, admin, alice, fake_drip
) -> None:
    interaction = slash(admin)
    run(
        config_drip_command(
            interaction,
            realm_id=fake_drip.realm_id,
            api_key=fake_drip.api_key,
            currency_id=fake_drip.currency_id,
        )
    )
    assert interaction.last.ephemeral
    assert "Connected to DRIP" in interaction.last.text or interaction.last.embed is not None
    guild.refresh_from_db()
    assert guild.points_backend == PointsBackend.DRIP
    assert fake_drip.api_key not in guild.drip_api_key_encrypted
    fake_drip.add_member(alice.id, 4321)
    ask = slash(alice)
    run(balance_command(ask))
    assert "**4,321**" in ask.last.text
    back = slash(admin)
    run(config_local_command(back))
    guild.refresh_from_db()
    assert guild.points_backend == PointsBackend.LOCAL


def test_config_drip_is_for_server_managers_only(slash, guild: Guild, alice, fake_drip) -> None:
    interaction = slash(alice)
    run(config_drip_command(interaction, realm_id=fake_drip.realm_id, api_key="k" * 16))
    assert interaction.last.ephemeral
    guild.refresh_from_db()
    assert guild.points_backend == PointsBackend.LOCAL


def test_balance_says_clearly_when_drip_is_unreachable(
    slash, guild, admin, alice, fake_drip
) -> None:
    run(config_drip_command(slash(admin), realm_id=fake_drip.realm_id, api_key=fake_drip.api_key))
    fake_drip.down = True
    ask = slash(alice)
    run(balance_command(ask))
    assert ask.last.ephemeral
    assert ("DRIP" in ask.last.text and "not answering" in ask.last.text) or "down" in ask.last.text


def test_the_market_embed_links_to_the_public_page_only_when_pages_are_on(guild, market) -> None:
    from django.conf import settings

    from botrunner.embeds import market_embed
    from botrunner.reads import market_card

    assert market_embed(market_card(market.pk)).url is None
    Guild.objects.filter(pk=guild.pk).update(public_pages=True)
    url = market_embed(market_card(market.pk)).url
    assert url == f"{settings.PUBLIC_BASE_URL}/g/{guild.pk}/markets/{market.pk}/"

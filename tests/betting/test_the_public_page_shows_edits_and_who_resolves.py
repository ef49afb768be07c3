"""The public market page shows an edited description as edited, with every version,
and who may resolve the market."""

from __future__ import annotations

import pytest
from django.test import Client

from markets.descriptions import market_description_edit
from points.models import Guild, ResolverRule
from tests.markets.helpers import make_guild, make_market, make_member

pytestmark = pytest.mark.django_db


def test_an_edited_description_shows_its_history_and_the_arbitrator() -> None:
    guild = make_guild(public_pages=True, resolvers_multiple=ResolverRule.ARBITRATOR)
    creator, judge = make_member(guild, "creator"), make_member(guild, "judge")
    market = make_market(
        creator, options=["North", "Harbour", "Station"], arbitrator=judge, description="First."
    )
    market_description_edit(
        market_id=market.pk,
        description="First, clarified.",
        actor="discord:1",
        actor_name="mod one",
        is_moderator=True,
    )

    page = Client().get(f"/g/{guild.pk}/markets/{market.pk}/").content.decode()

    assert 'First, clarified. <span class="muted">(edited)</span>' in page
    history = page.split('id="description-history"')[1].split("</details>")[0]
    assert "2 versions" in history
    assert history.index("First, clarified.") < history.index("First.")  # newest first
    assert "by mod one" in history and "by creator" in history
    assert "Resolved by moderators, or judge (arbitrator)" in page


def test_a_description_never_edited_has_no_history() -> None:
    guild = make_guild(public_pages=True)
    Guild.objects.filter(pk=guild.pk).update(resolvers_binary=ResolverRule.MODERATORS)
    market = make_market(make_member(guild, "creator"), description="Plain.")

    page = Client().get(f"/g/{guild.pk}/markets/{market.pk}/").content.decode()

    assert "Plain." in page and "(edited)" not in page
    assert "description-history" not in page
    assert "Resolved by moderators." in page

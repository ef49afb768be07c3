"""The admin names an arbitrator at creation, clarifies descriptions through the service
(history shown on the market's page), and never offers the question or answers for editing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from betting.services import bet_place
from markets.models import DescriptionVersion, Market
from points.models import Guild, ResolverRule
from points.services import GUILD_SETTINGS, member_ensure
from predictmarket.models import AuditLogEntry

GUILD = 700_000_000_000_000_071

pytestmark = pytest.mark.django_db


def _staff(username: str = "mod1") -> Client:
    user = get_user_model().objects.create_superuser(username, f"{username}@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _create(client: Client, **fields: object):
    return client.post(
        "/admin/markets/market/add/",
        {
            "question": "Will the admin name a judge?",
            "options": "Yes\nNo",
            "duration_hours": "2",
            "category": "",
            "description": "As stated.",
            **fields,
        },
        follow=True,
    )


def test_the_admin_names_an_arbitrator_and_shows_who_may_resolve() -> None:
    alice = member_ensure(guild_id=GUILD, discord_id=11, display_name="alice")
    judge = member_ensure(guild_id=GUILD, discord_id=13, display_name="judge")
    Guild.objects.filter(pk=GUILD).update(resolvers_binary=ResolverRule.ARBITRATOR)
    client = _staff()

    _create(client, creator=alice.pk, arbitrator=judge.pk)

    market = Market.objects.get()
    assert (market.resolver_rule, market.arbitrator_id) == (ResolverRule.ARBITRATOR, judge.pk)
    page = client.get(f"/admin/markets/market/{market.pk}/change/").content.decode()
    assert "moderators, or judge (arbitrator)" in page


def test_the_admin_refuses_an_arbitrator_the_rule_does_not_use() -> None:
    alice = member_ensure(guild_id=GUILD, discord_id=11, display_name="alice")
    judge = member_ensure(guild_id=GUILD, discord_id=13, display_name="judge")
    client = _staff()

    response = _create(client, creator=alice.pk, arbitrator=judge.pk)

    assert b"leave the arbitrator out" in response.content
    assert not Market.objects.exists()


def test_a_moderator_clarifies_after_a_trade_and_the_history_is_shown() -> None:
    alice = member_ensure(guild_id=GUILD, discord_id=11, display_name="alice")
    bob = member_ensure(guild_id=GUILD, discord_id=12, display_name="bob")
    client = _staff()
    _create(client, creator=alice.pk)
    market = Market.objects.get()
    bet_place(member=bob, market_id=market.pk, outcome_index=0, amount=50, idempotency_key="k1")

    response = client.post(
        "/admin/markets/market/",
        {
            "action": "edit_description",
            "_selected_action": [market.pk],
            "confirm": "yes",
            "description": "As stated, counted at noon UTC.",
        },
        follow=True,
    )

    assert b"description updated" in response.content
    market.refresh_from_db()
    assert market.description == "As stated, counted at noon UTC."
    assert list(DescriptionVersion.objects.values_list("number", "text", "edited_by")) == [
        (1, "As stated.", "creator"),
        (2, "As stated, counted at noon UTC.", "admin:mod1"),
    ]
    assert AuditLogEntry.objects.filter(
        action="market.description.edit", actor="admin:mod1"
    ).exists()
    page = client.get(f"/admin/markets/market/{market.pk}/change/").content.decode()
    assert "edited (2 versions, below)" in page
    assert "As stated, counted at noon UTC." in page and "As stated." in page


def test_the_question_and_answers_cannot_be_edited_after_a_trade() -> None:
    alice = member_ensure(guild_id=GUILD, discord_id=11, display_name="alice")
    bob = member_ensure(guild_id=GUILD, discord_id=12, display_name="bob")
    client = _staff()
    _create(client, creator=alice.pk)
    market = Market.objects.get()
    bet_place(member=bob, market_id=market.pk, outcome_index=0, amount=50, idempotency_key="k2")

    page = client.get(f"/admin/markets/market/{market.pk}/change/").content.decode()
    assert 'name="question"' not in page and 'name="description"' not in page
    assert 'name="outcomes-0-label"' not in page
    client.post(
        f"/admin/markets/market/{market.pk}/change/",
        {"question": "Changed?", "description": "Changed", "outcomes-0-label": "Maybe"},
    )

    market.refresh_from_db()
    assert market.question == "Will the admin name a judge?"
    assert market.description == "As stated."
    assert [o.label for o in market.outcomes.order_by("index")] == ["Yes", "No"]


def test_the_guild_admin_sets_who_resolves_each_market_kind() -> None:
    """README: the rule is edited in the admin (Points ledger → Guilds) as well as /config set."""
    member_ensure(guild_id=GUILD, discord_id=11, display_name="alice")
    guild = Guild.objects.get(pk=GUILD)
    data: dict[str, object] = {"id": guild.pk, "name": guild.name}
    for name in GUILD_SETTINGS:
        value = getattr(guild, name)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    data.update(
        points_backend=guild.points_backend,
        resolvers_binary=ResolverRule.CREATOR,
        resolvers_multiple=ResolverRule.ARBITRATOR,
    )

    response = _staff().post(f"/admin/points/guild/{guild.pk}/change/", data)

    assert response.status_code == 302, response.content.decode()[:2000]
    guild.refresh_from_db()
    assert (guild.resolvers_binary, guild.resolvers_multiple) == (
        ResolverRule.CREATOR,
        ResolverRule.ARBITRATOR,
    )
    assert AuditLogEntry.objects.filter(guild_id=GUILD, action__startswith="guild.").exists()

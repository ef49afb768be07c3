"""A guild's amounts stay at most ``MAX_AMOUNT``, so no member, claim or market overflows.

Before the bound, the settings service (and so the admin and ``/config``)
accepted anything a BIGINT holds; a starting balance, daily amount or
liquidity near 9.2·10^18 then overflowed the house's balance on the second
member, claim or market, and every one of them answered 500 for the guild.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.db import IntegrityError, connection, transaction
from django.db.migrations.executor import MigrationExecutor
from django.test import Client

from points.amounts import MAX_AMOUNT
from points.models import Guild
from points.services import GUILD_SETTINGS, guild_update_settings, member_ensure
from predictmarket.errors import ValidationFailed
from predictmarket.models import AuditLogEntry
from tests.factories import MEMBER_ID_BASE, balance_of

# Below 2**63, so the admin's BigIntegerField accepted it; twice it is not.
HUGE = 9 * 10**18
BOUNDED = ["starting_balance", "daily_amount", "default_liquidity", "min_bet", "max_bet"]


def _settings(guild: Guild) -> dict[str, object]:
    guild.refresh_from_db()
    return {f.name: getattr(guild, f.name) for f in Guild._meta.fields if f.name != "updated_at"}


@pytest.mark.django_db
@pytest.mark.parametrize("setting", BOUNDED)
def test_the_settings_service_refuses_an_amount_past_the_maximum(
    guild: Guild, setting: str
) -> None:
    before = _settings(guild)
    with pytest.raises(ValidationFailed) as refused:
        guild_update_settings(guild_id=guild.pk, actor="discord:42", **{setting: MAX_AMOUNT + 1})
    assert refused.value.details["field"] == setting
    assert "At most 1,000,000,000,000 points." in refused.value.message
    assert _settings(guild) == before
    assert not AuditLogEntry.objects.filter(action="guild.settings").exists()


@pytest.mark.django_db
def test_the_maximum_itself_is_accepted(guild: Guild) -> None:
    guild_update_settings(
        guild_id=guild.pk, actor="discord:42", **dict.fromkeys(BOUNDED, MAX_AMOUNT)
    )
    assert all(value == MAX_AMOUNT for value in map(_settings(guild).get, BOUNDED))


@pytest.mark.django_db
def test_a_huge_starting_balance_is_refused_and_members_still_join(guild: Guild) -> None:
    with pytest.raises(ValidationFailed):
        guild_update_settings(guild_id=guild.pk, actor="discord:42", starting_balance=HUGE)
    joined = [member_ensure(guild_id=guild.pk, discord_id=MEMBER_ID_BASE + i) for i in (1, 2)]
    assert [balance_of(m) for m in joined] == [guild.starting_balance] * 2


@pytest.mark.django_db
@pytest.mark.parametrize("setting", BOUNDED)
def test_the_database_refuses_an_out_of_range_amount(guild: Guild, setting: str) -> None:
    """Whatever writes the row (a shell, a bulk update), the CHECK holds."""
    with pytest.raises(IntegrityError), transaction.atomic():
        Guild.objects.filter(pk=guild.pk).update(**{setting: MAX_AMOUNT + 1})


def _admin() -> Client:
    user = get_user_model().objects.create_superuser("staff", "s@example.com", "pw")
    client = Client()
    client.force_login(user)
    return client


def _change_form(guild: Guild, **overrides: object) -> dict[str, object]:
    """The guild's change form as the admin submits it, with ``overrides``."""
    data: dict[str, object] = {"id": guild.pk, "name": guild.name}
    for name in GUILD_SETTINGS:
        value = getattr(guild, name)
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        else:
            data[name] = "" if value is None else value
    data.update(points_backend=guild.points_backend, drip_realm_id="", drip_currency_id="")
    data.update(overrides)
    return data


@pytest.mark.django_db
@pytest.mark.parametrize("setting", ["starting_balance", "daily_amount", "default_liquidity"])
def test_the_admin_refuses_a_huge_amount_with_a_clear_message(guild: Guild, setting: str) -> None:
    before = _settings(guild)
    response = _admin().post(
        f"/admin/points/guild/{guild.pk}/change/", _change_form(guild, **{setting: HUGE})
    )
    assert response.status_code == 200  # the form again, with its error; not a redirect
    assert "At most 1,000,000,000,000 points." in response.content.decode()
    assert _settings(guild) == before


@pytest.mark.django_db
def test_the_admin_saves_an_amount_within_the_bound(guild: Guild) -> None:
    response = _admin().post(
        f"/admin/points/guild/{guild.pk}/change/", _change_form(guild, daily_amount=MAX_AMOUNT)
    )
    assert response.status_code == 302
    assert _settings(guild)["daily_amount"] == MAX_AMOUNT


@pytest.mark.django_db(transaction=True)
def test_the_migration_clamps_stored_amounts_before_adding_its_constraints() -> None:
    """A database that already holds an out-of-range guild still migrates."""
    executor = MigrationExecutor(connection)
    graph = executor.loader.graph
    [bounding] = [
        node
        for node in graph.nodes
        if node[0] == "points" and node[1].endswith("bound_guild_amounts")
    ]
    [before] = [parent for parent in graph.node_map[bounding].parents if parent.key[0] == "points"]
    targets = graph.leaf_nodes()
    try:
        executor.migrate([before.key])
        old = executor.loader.project_state([before.key]).apps.get_model("points", "Guild")
        old.objects.create(
            id=123_000_000_000_000_001,
            name="overflowing",
            starting_balance=HUGE,
            daily_amount=HUGE,
            min_bet=HUGE,
            max_bet=HUGE,
            default_liquidity=HUGE,
            fee_bps=0,
            min_resolution_votes=2,
            auto_refund_hours=120,
        )
        executor = MigrationExecutor(connection)
        executor.migrate(targets)
    finally:
        MigrationExecutor(connection).migrate(targets)
    guild = Guild.objects.get(pk=123_000_000_000_000_001)
    assert [getattr(guild, name) for name in BOUNDED] == [MAX_AMOUNT] * len(BOUNDED)
    # The guild's admins can see what changed and why.
    entry = AuditLogEntry.objects.get(actor="system:migration", target_id=str(guild.pk))
    assert entry.data["before"]["starting_balance"] == str(HUGE)


@pytest.mark.django_db
def test_the_admin_saves_the_announcement_settings(guild: Guild) -> None:
    form = _change_form(
        guild, announce_new_markets="on", closing_soon_lead_minutes=45, market_threads="on"
    )
    response = _admin().post(f"/admin/points/guild/{guild.pk}/change/", form)
    assert response.status_code == 302
    saved = _settings(guild)
    assert (saved["announce_new_markets"], saved["closing_soon_lead_minutes"]) == (True, 45)
    assert saved["market_threads"] is True


@pytest.mark.django_db
def test_the_admin_refuses_a_closing_soon_lead_past_a_week(guild: Guild) -> None:
    before = _settings(guild)
    response = _admin().post(
        f"/admin/points/guild/{guild.pk}/change/",
        _change_form(guild, closing_soon_lead_minutes=10_081),
    )
    assert response.status_code == 200
    assert "At most 10,080 minutes (a week); 0 turns it off." in response.content.decode()
    assert _settings(guild) == before


@pytest.mark.django_db
def test_the_database_refuses_a_closing_soon_lead_past_a_week(guild: Guild) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Guild.objects.filter(pk=guild.pk).update(closing_soon_lead_minutes=7 * 24 * 60 + 1)
    Guild.objects.filter(pk=guild.pk).update(closing_soon_lead_minutes=7 * 24 * 60)  # the bound

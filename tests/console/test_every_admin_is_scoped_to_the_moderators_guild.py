"""Every registered ModelAdmin, walked as guild A's moderator: only A's rows, anywhere.

Each admin is either guild-scoped (listed in ``GUILD_OF`` with the test's own
way to read a row's guild) or operators-only (``OPERATORS_ONLY``). A newly
registered admin in neither list fails the first test: decide which it is.

For a scoped admin the moderator's answer is compared with the operator's on
the same URL: the moderator must see exactly the operator's rows that belong
to A — for the plain list, each search and each filter choice the operator is
offered — and never one of B's, which the operator does see.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.db.models import Model
from django.test import Client

from betting.models import Position, Season, SeasonStanding, Trade
from markets.models import Market
from points.models import Account, DripTransfer, Guild, LedgerTransaction, Member
from predictmarket.models import AuditLogEntry, OutboxCursor, OutboxEvent
from tests.console.conftest import Cast, World, make_world, operator_client, sign_in

pytestmark = [pytest.mark.tenancy, pytest.mark.django_db]

GUILD_OF: dict[type[Model], Callable[[Any], int | None]] = {
    Guild: lambda o: o.pk,
    Member: lambda o: o.guild_id,
    Account: lambda o: o.guild_id,
    LedgerTransaction: lambda o: o.guild_id,
    DripTransfer: lambda o: o.guild_id,
    Market: lambda o: o.guild_id,
    Trade: lambda o: o.market.guild_id,
    Position: lambda o: o.market.guild_id,
    Season: lambda o: o.guild_id,
    SeasonStanding: lambda o: o.season.guild_id,
    AuditLogEntry: lambda o: o.guild_id,
}


def _operators_only() -> set[type[Model]]:
    from allauth.account.models import EmailAddress
    from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken

    return {
        User,
        Group,
        EmailAddress,
        SocialApp,
        SocialToken,
        SocialAccount,
        OutboxEvent,
        OutboxCursor,
    }


def _url(model: type[Model], view: str, *args: Any) -> str:
    from django.urls import reverse

    meta = model._meta
    return reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=args)


def _rows(client: Client, url: str) -> list[Model]:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return list(response.context["cl"].queryset)


@pytest.fixture
def world(cast: Cast) -> World:
    return make_world(cast)


@pytest.fixture
def moderator_a(cast: Cast, world: World) -> Client:
    return sign_in(cast, cast.mod_a)


def test_every_registered_admin_is_either_scoped_or_for_operators_only() -> None:
    registered = set(admin.site._registry)
    unknown = registered - set(GUILD_OF) - _operators_only()
    assert not unknown, (
        f"{sorted(m._meta.label for m in unknown)}: new admins must be guild-scoped "
        "(GuildScopedAdmin with guild_lookup, then add them to GUILD_OF) or operators-only"
    )
    assert registered == set(GUILD_OF) | _operators_only()


def test_a_moderator_sees_only_their_guilds_rows_in_every_list_search_and_filter(
    moderator_a: Client, world: World
) -> None:
    operator = operator_client()
    a, b = world.guild_a.pk, world.guild_b.pk
    for model, guild_of in GUILD_OF.items():
        url = _url(model, "changelist")
        everything = _rows(operator, url)
        assert {guild_of(o) for o in everything} >= {a, b}, f"{model}: B has no rows to hide"
        queries = [""]
        modeladmin = admin.site._registry[model]
        if modeladmin.search_fields:
            queries += ["?q=bravo", "?q=alpha", f"?q={b}", f"?q={world.market_b.pk}"]
        # Every filter choice the operator is offered (which includes B's values).
        page = operator.get(url)
        for spec in page.context["cl"].filter_specs:
            for choice in spec.choices(page.context["cl"]):
                queries.append(choice["query_string"])
        seen_any = False
        for query in queries:
            expected = {o.pk for o in _rows(operator, url + query) if guild_of(o) == a}
            shown = _rows(moderator_a, url + query)
            assert {guild_of(o) for o in shown} <= {a}, f"{model} {query}: another guild's row"
            assert {o.pk for o in shown} == expected, f"{model} {query}"
            seen_any = seen_any or bool(shown)
        assert seen_any, f"{model}: the moderator saw none of A's rows"

        # The filters offered to the moderator name nothing of B.
        offered = moderator_a.get(url)
        for spec in offered.context["cl"].filter_specs:
            for choice in spec.choices(offered.context["cl"]):
                assert "bravo" not in str(choice["display"]).lower(), (model, choice)
                assert str(b) not in choice["query_string"], (model, choice)


def test_another_guilds_object_by_url_is_a_404_and_operators_only_admins_are_refused(
    moderator_a: Client, world: World
) -> None:
    for model, guild_of in GUILD_OF.items():
        theirs = next(o for o in model._default_manager.all() if guild_of(o) == world.guild_b.pk)
        ours = next(o for o in model._default_manager.all() if guild_of(o) == world.guild_a.pk)
        assert moderator_a.get(_url(model, "change", ours.pk)).status_code == 200, model
        for view in ("change", "history"):
            response = moderator_a.get(_url(model, view, theirs.pk))
            assert response.status_code == 404, (model, view, response.status_code)
        assert moderator_a.get(_url(model, "delete", theirs.pk)).status_code in {403, 404}
    for model in _operators_only():
        assert moderator_a.get(_url(model, "changelist")).status_code == 403, model
        assert operator_client().get(_url(model, "changelist")).status_code == 200, model
    index = moderator_a.get("/admin/").content.decode()
    for hidden in ("/admin/auth/user/", "/admin/socialaccount/", "/admin/core/outboxevent/"):
        assert hidden not in index


def test_autocomplete_offers_only_the_moderators_guild(moderator_a: Client, world: World) -> None:
    asked = 0
    for source in admin.site._registry:
        for field in source._meta.get_fields():
            target = getattr(field, "related_model", None)
            if not field.is_relation or not getattr(field, "concrete", False):
                continue
            if target not in GUILD_OF or not admin.site._registry[target].search_fields:
                continue
            query = {
                "app_label": source._meta.app_label,
                "model_name": source._meta.model_name,
                "field_name": field.name,
                "term": "",
            }
            everything = operator_client().get("/admin/autocomplete/", query).json()["results"]
            shown = moderator_a.get("/admin/autocomplete/", query).json()["results"]
            guild_of = GUILD_OF[target]
            objects = {str(o.pk): o for o in target._default_manager.all()}
            assert {guild_of(objects[r["id"]]) for r in everything} >= {world.guild_b.pk}
            assert {guild_of(objects[r["id"]]) for r in shown} == {world.guild_a.pk}, query
            asked += 1
    assert asked >= 5


def test_a_form_offers_only_the_moderators_members(moderator_a: Client, world: World) -> None:
    page = moderator_a.get("/admin/markets/market/add/").content.decode()
    creators = re.findall(r'<option value="(\d+)"', page)
    assert creators and {int(c) for c in creators} <= set(
        Member.objects.filter(guild=world.guild_a).values_list("pk", flat=True)
    )
    # A forged form naming B's member as creator is refused; no market is made in B.
    before = Market.objects.filter(guild=world.guild_b).count()
    response = moderator_a.post(
        "/admin/markets/market/add/",
        {
            "creator": world.member_b.pk,
            "question": "A market planted in bravo?",
            "options": "Yes\nNo",
            "duration_hours": "2",
        },
    )
    assert response.status_code == 200 and b"Select a valid choice" in response.content
    assert Market.objects.filter(guild=world.guild_b).count() == before

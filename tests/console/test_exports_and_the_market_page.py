"""The admin's market page (chart with axes, every holder) and the CSV exports of the lists."""

from __future__ import annotations

import csv
import io

import jsonschema
import pytest
import requests
from django.test import Client

from points.services import points_grant
from predictmarket.console.csv_export import csv_cell
from tests.console.conftest import Cast, World, make_world, operator_client, sign_in

pytestmark = [pytest.mark.tenancy, pytest.mark.django_db]

EXPORTS = {
    "/admin/betting/trade/export.csv": "guild_id",
    "/admin/points/ledgertransaction/export.csv": "guild_id",
    "/admin/core/auditlogentry/export.csv": "guild_id",
}


@pytest.fixture
def world(cast: Cast) -> World:
    return make_world(cast)


@pytest.fixture
def moderator_a(cast: Cast, world: World) -> Client:
    return sign_in(cast, cast.mod_a)


def _csv(client: Client, url: str) -> list[dict[str, str]]:
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    assert response["Content-Type"] == "text/csv"
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_each_export_holds_only_the_moderators_guild(moderator_a: Client, world: World) -> None:
    for url, column in EXPORTS.items():
        everything = _csv(operator_client(), url)
        assert {r[column] for r in everything} >= {str(world.guild_a.pk), str(world.guild_b.pk)}
        mine = _csv(moderator_a, url)
        assert mine and {r[column] for r in mine} == {str(world.guild_a.pk)}, url
        assert len(mine) == sum(r[column] == str(world.guild_a.pk) for r in everything), url


def test_an_export_follows_the_lists_filters_and_search(moderator_a: Client, world: World) -> None:
    page = moderator_a.get("/admin/core/auditlogentry/?q=grant")
    assert b'href="/admin/core/auditlogentry/export.csv?q=grant"' in page.content
    rows = _csv(moderator_a, "/admin/core/auditlogentry/export.csv?q=grant")
    assert rows and all("grant" in (r["action"] + r["actor"]) for r in rows)
    # Asking the export for the other guild by filter gives nothing of it.
    foreign = _csv(
        moderator_a,
        f"/admin/points/ledgertransaction/export.csv?guild__id__exact={world.guild_b.pk}",
    )
    assert foreign == []


def test_spreadsheet_formulas_in_member_text_are_neutralised(
    moderator_a: Client, world: World
) -> None:
    points_grant(member=world.member_a, amount=3, reason='=HYPERLINK("x")', actor="@mod")
    rows = _csv(moderator_a, "/admin/points/ledgertransaction/export.csv")
    memos = {r["memo"] for r in rows}
    assert '\'=HYPERLINK("x")' in memos
    assert "'@mod" in {r["actor"] for r in rows}
    # Amounts stay numbers (a debit is -3, not '-3).
    assert "-3" in {r["amount"] for r in rows}
    for text in ("=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(text) == "'" + text
    assert csv_cell(-5) == -5 and csv_cell("plain") == "plain"


def test_the_market_page_shows_a_labelled_chart_and_every_holder(
    moderator_a: Client, world: World
) -> None:
    page = moderator_a.get(f"/admin/markets/market/{world.market_a.pk}/change/").content.decode()
    assert 'id="market-price-chart"' in page and "<polyline" in page
    for label in ("0%", "50%", "100%", "time (UTC)", "probability", " UTC</text>"):
        assert label in page, label
    assert 'id="market-holders"' in page and "alpha-trader" in page
    assert "bravo" not in page


def test_the_emulator_answers_the_member_route_with_discords_own_schema(
    cast: Cast, world: World
) -> None:
    from allauth.socialaccount.models import SocialToken

    sign_in(cast, cast.mod_a)
    token = SocialToken.objects.get(account__uid=str(cast.mod_a.user_id)).token
    spec = cast.emulator.spec.document  # Discord's OpenAPI document
    operation = spec["paths"]["/users/@me/guilds/{guild_id}/member"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    validator = jsonschema.Draft202012Validator({**schema, "components": spec["components"]})
    base = cast.emulator.base_url
    headers = {"Authorization": f"Bearer {token}"}
    mine = requests.get(
        f"{base}/users/@me/guilds/{cast.a.guild_id}/member", headers=headers, timeout=5
    )
    assert mine.status_code == 200
    assert [e.message for e in validator.iter_errors(mine.json())] == []
    assert str(cast.a.moderator_role_id) in mine.json()["roles"]

    cast.emulator.set_roles(cast.mod_a, [], guild=cast.a)
    try:
        changed = requests.get(
            f"{base}/users/@me/guilds/{cast.a.guild_id}/member", headers=headers, timeout=5
        )
        assert changed.json()["roles"] == []
    finally:
        cast.emulator.set_roles(cast.mod_a, [cast.a.moderator_role_id], guild=cast.a)
    outside = requests.get(
        f"{base}/users/@me/guilds/{cast.mod_b.user_id}/member", headers=headers, timeout=5
    )
    assert (outside.status_code, outside.json()["code"]) == (404, 10004)
    bot = requests.get(
        f"{base}/users/@me/guilds/{cast.a.guild_id}/member",
        headers={"Authorization": f"Bot {cast.emulator.token}"},
        timeout=5,
    )
    assert bot.status_code == 401  # a user route: the bot's token is not a person

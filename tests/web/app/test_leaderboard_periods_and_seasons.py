"""The leaderboard pages (members' and public) show periods, this season and ended seasons."""

from __future__ import annotations

import re

from django.test import Client
from django.urls import reverse

from betting.seasons import season_start
from betting.services import bet_place
from betting.settlement import settle_resolved_market
from points.models import Guild
from tests.markets.helpers import decide
from tests.web.app.conftest import MembersApp


def names(content: bytes) -> list[str]:
    return re.findall(r"<td>(\w+)(?: <strong>\(you\)</strong>)?</td>", content.decode())


def start(guild: Guild, key: str) -> None:
    season_start(
        guild_id=guild.pk, actor="discord:1", is_moderator=True, reset=False, idempotency_key=key
    )


def test_a_member_reads_this_season_and_an_ended_seasons_standings(
    members_app: MembersApp,
) -> None:
    ana, ben = members_app.person("ana"), members_app.person("ben")
    harbour = members_app.harbour
    client = members_app.sign_in(ben)
    board = reverse("webapp:leaderboard", kwargs={"guild_id": harbour.pk})

    early = client.get(board, {"by": "profit", "period": "season"})
    assert early.status_code == 200 and b"No season has been started" in early.content

    start(harbour, "web-1")
    market = members_app.market(harbour, ana, question="Ferry on Sunday?")
    for persona, outcome in ((ana, 0), (ben, 1)):
        bet_place(
            member=members_app.member_of(harbour, persona),
            market_id=market.pk,
            outcome_index=outcome,
            amount=100,
            idempotency_key=f"web:{persona.username}",
        )
    decide(market, outcome_index=0)
    settle_resolved_market(market_id=market.pk)

    season = client.get(board, {"by": "profit", "period": "season"})
    assert season.status_code == 200
    assert b"Leaderboard: Profit, this season" in season.content
    assert names(season.content) == ["ana", "ben"]
    assert b"-100" in season.content

    start(harbour, "web-2")
    archived = client.get(board, {"season": "1"})
    assert b"Season 1: final standings by profit" in archived.content
    assert names(archived.content) == ["ana", "ben"]
    assert b'id="my-rank"' in archived.content
    # Season 2 has just begun: nobody has won or lost in it.
    assert b"-100" not in client.get(board, {"by": "profit", "period": "season"}).content
    missing = client.get(board, {"season": "9"})
    assert missing.status_code == 200 and b"has no season 9" in missing.content


def test_the_public_page_shows_an_ended_season(members_app: MembersApp) -> None:
    harbour = members_app.harbour
    Guild.objects.filter(pk=harbour.pk).update(public_pages=True)
    members_app.member_of(harbour, members_app.person("cal"))
    start(harbour, "pub-1")
    start(harbour, "pub-2")
    page = f"/g/{harbour.pk}/leaderboard/"

    archived = Client().get(page, {"season": "1"})
    season = Client().get(page, {"by": "profit", "period": "season"})

    assert (
        archived.status_code == 200 and b"Season 1: final standings by profit" in archived.content
    )
    assert b"cal" in archived.content
    assert season.status_code == 200 and b"this season" in season.content
    assert b'href="?season=1"' in season.content

"""GET/POST /seasons/, GET /seasons/<n>/standings/ and the leaderboard's season period."""

from __future__ import annotations

from rest_framework.test import APIClient

from betting.models import Season
from points.models import Account, AccountKind, Guild, Member
from tests.api.helpers import api_state, assert_error, url
from tests.factories import set_balance

KEY = {"HTTP_IDEMPOTENCY_KEY": "season-2"}


def test_a_moderator_starts_a_season_once_per_key(
    mod: APIClient, guild: Guild, member: Member, other_member: Member
) -> None:
    set_balance(member, 400)
    set_balance(other_member, 2500)

    first = mod.post(url("seasons"), {"reset": True}, format="json", HTTP_IDEMPOTENCY_KEY="s-1")
    again = mod.post(url("seasons"), {"reset": True}, format="json", HTTP_IDEMPOTENCY_KEY="s-1")

    assert first.status_code == 201, first.content
    assert again.status_code == 200 and again.json()["number"] == first.json()["number"] == 1
    assert first.json()["reset"] is True and first.json()["ended_at"] is None
    assert Season.objects.filter(guild=guild).count() == 1
    balances = Account.objects.filter(guild=guild, kind=AccountKind.MEMBER)
    assert set(balances.values_list("balance", flat=True)) == {guild.starting_balance}


def test_a_member_cannot_start_a_season(alice: APIClient) -> None:
    before = api_state()

    response = alice.post(url("seasons"), {"reset": True}, format="json")

    assert_error(response, 403, "permission_denied")
    assert api_state() == before and not Season.objects.exists()


def test_the_season_board_and_the_archived_standings(
    mod: APIClient, alice: APIClient, member: Member, foreign_mod: APIClient
) -> None:
    assert_error(
        alice.get(url("leaderboard"), {"by": "profit", "period": "season"}), 409, "invalid_state"
    )
    mod.post(url("seasons"), {}, format="json", HTTP_IDEMPOTENCY_KEY="s-1")
    board = alice.get(url("leaderboard"), {"by": "profit", "period": "season"})
    assert board.status_code == 200 and board.json()["period"] == "season"
    assert board.json()["me"]["member_id"] == member.pk
    mod.post(url("seasons"), {}, format="json", **KEY)

    standings = alice.get(url("seasons/1/standings"), {"limit": 5})

    assert standings.status_code == 200, standings.content
    body = standings.json()
    assert body["season"]["number"] == 1 and body["season"]["ended_at"] is not None
    assert body["me"]["member_id"] == member.pk and body["me"]["profit"] == 0
    assert member.pk in [r["member_id"] for r in body["rows"]]
    listed = alice.get(url("seasons")).json()["seasons"]
    assert [s["number"] for s in listed] == [2, 1]
    # Another guild's moderator sees their own guild: no season 1 there.
    assert_error(foreign_mod.get(url("seasons/1/standings")), 404, "not_found")
    assert foreign_mod.get(url("seasons")).json() == {"seasons": []}

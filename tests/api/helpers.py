"""Clients, markets and checks shared by the API suite."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from rest_framework.response import Response
from rest_framework.test import APIClient

from betting.models import Position, Trade
from markets.models import Market, Outcome, ResolutionVote
from markets.services import market_create
from points.api_tokens import api_token_issue
from points.models import Account, ApiToken, Guild, Member
from points.services import member_ensure
from tests.factories import snapshot
from tests.fake_discord import FakeDiscord

_MODERATOR_IDS = itertools.count(556_000_000_000_000_000)
# Every guild of the API suite that has moderators names this role as theirs.
MODERATOR_ROLE_ID = 557_000_000_000_000_001


def issue_key(member: Member, *, moderator: bool = False) -> str:
    """A key as ``/apikey`` issues it (revoking the member's earlier one)."""
    return api_token_issue(
        member=member, actor="system:test-setup", issued_by_moderator=moderator
    ).key


def client_with_key(key: str) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return api


def make_moderator(guild: Guild, name: str, discord: FakeDiscord) -> Member:
    """A member holding the guild's moderator role, in the database and in (fake) Discord."""
    Guild.objects.filter(pk=guild.pk).update(moderator_role_id=MODERATOR_ROLE_ID)
    guild.refresh_from_db()
    member = member_ensure(guild_id=guild.pk, discord_id=next(_MODERATOR_IDS), display_name=name)
    discord.add_member(guild.pk, member.discord_id, roles=[MODERATOR_ROLE_ID])
    return member


def open_market(
    creator: Member,
    *,
    question: str = "Will the bridge open before June?",
    options: tuple[str, ...] = ("Yes", "No"),
    duration: timedelta = timedelta(days=1),
    **kwargs: Any,
) -> Market:
    return market_create(
        creator=creator,
        question=question,
        options=list(options),
        duration=duration,
        actor=f"discord:{creator.discord_id}",
        bypass_rate_limit=True,
        **kwargs,
    )


def balance_of(member: Member) -> int:
    return Account.objects.get(member_id=member.pk).balance


def url(name: str, market: Market | int | None = None) -> str:
    """``/api/v1/<name>/``, or ``/api/v1/markets/<id>/<name>/`` when a market is given."""
    if market is None:
        return f"/api/v1/{name}/"
    market_id = market if isinstance(market, int) else market.pk
    return f"/api/v1/markets/{market_id}/{name}/" if name else f"/api/v1/markets/{market_id}/"


def assert_error(response: Response, status: int, code: str, *, field: str | None = None) -> dict:
    """The one error shape, ``{"error": {"code", "message", "details"}}``; returns ``error``.

    ``field`` must be named in ``details`` with a non-empty explanation, for
    serializer and service validation errors alike.
    """
    assert response.status_code == status, (response.status_code, response.content)
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "details"}, error
    assert error["code"] == code, error
    assert isinstance(error["message"], str) and error["message"].strip(), error
    assert isinstance(error["details"], dict), error
    if field is not None:
        assert error["details"].get(field), f"{field!r} not explained in {error['details']}"
    return error


def assert_unauthenticated(response: Response, code: str = "not_authenticated") -> None:
    """401 in the envelope, with the challenge that tells a client how to authenticate."""
    assert_error(response, 401, code)
    assert response["WWW-Authenticate"] == 'Bearer realm="api"', response.headers


def api_state() -> dict[str, Any]:
    """Everything a refused request must leave as it was: money, markets, trades, votes."""
    return {
        **snapshot(),
        "markets": dict(Market.objects.values_list("pk", "status")),
        "volumes": dict(Market.objects.values_list("pk", "volume")),
        "pools": dict(Outcome.objects.values_list("pk", "pool")),
        "trades": Trade.objects.count(),
        "positions": sorted(Position.objects.values_list("pk", "shares", "points_spent")),
        "votes": sorted(ResolutionVote.objects.values_list("market_id", "voter", "outcome_id")),
        "tokens": sorted(ApiToken.objects.values_list("pk", "revoked_at")),
    }

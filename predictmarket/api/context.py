"""Who is calling and in which guild, for API views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from points.models import Member
from points.snowflakes import MAX_SNOWFLAKE, parse_snowflake
from predictmarket.api.auth import MemberPrincipal
from predictmarket.errors import NotFound, ValidationFailed

if TYPE_CHECKING:
    from rest_framework.views import APIView


def request_guild_id(request: Request) -> int:
    """The token's guild; staff sessions name one with ``?guild=<id>``."""
    if isinstance(request.user, MemberPrincipal):
        return request.user.guild_id
    raw = request.query_params.get("guild", "")
    if not raw:
        raise ValidationFailed("Staff sessions must name a guild: ?guild=<id>.", field="guild")
    # Not str.isdigit(): it accepts "²", which int() refuses (a 500), and ids past
    # BIGINT overflow SQLite.
    return parse_snowflake(raw, field="guild")


def existing_id(object_id: int) -> int:
    """A path id that may name a row; past BIGINT it names none: 404 before SQL overflows.

    (The ORM answers such lookups with no rows; hand-written SQL on SQLite raises.)
    """
    if object_id > MAX_SNOWFLAKE:
        raise NotFound("That does not exist.")
    return object_id


def request_member(request: Request) -> Member:
    if not isinstance(request.user, MemberPrincipal):
        raise exceptions.PermissionDenied("Only a member's API key can trade or hold points.")
    return request.user.member


def request_actor(request: Request) -> str:
    if isinstance(request.user, MemberPrincipal):
        return f"api:discord:{request.user.member.discord_id}"
    return f"admin:{request.user.get_username()}"


def is_moderator(request: Request) -> bool:
    user = request.user
    if isinstance(user, MemberPrincipal):
        return user.is_moderator
    return bool(user.is_staff and user.has_perm("markets.change_market"))


class IsModerator(permissions.BasePermission):
    message = "Only moderators can do that."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return bool(request.user and request.user.is_authenticated and is_moderator(request))


class IsMember(permissions.BasePermission):
    message = "Only a member's API key can do that."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, MemberPrincipal)

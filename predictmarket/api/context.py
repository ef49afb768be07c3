"""Who is calling and in which guild, for API views."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework import exceptions, permissions
from rest_framework.request import Request

from markets.voters import discord_voter, staff_voter
from points.models import Member
from points.snowflakes import MAX_SNOWFLAKE, parse_snowflake
from predictmarket.api.auth import MemberPrincipal
from predictmarket.discord_api import member_is_moderator
from predictmarket.discord_login.memberships import moderated_guilds
from predictmarket.errors import ModeratorCheckUnavailable, NotFound, ValidationFailed

if TYPE_CHECKING:
    from rest_framework.views import APIView


def request_guild_id(request: Request) -> int:
    """The token's guild; staff sessions name one with ``?guild=<id>``.

    An operator's (a superuser's) session may name any guild. Any other staff
    session only a guild its person moderates on Discord, as the moderators'
    console asks (``moderated_guilds``: fresh within
    ``MODERATOR_CONSOLE_REFRESH_SECONDS``, asked again for every write); another
    guild is not found, whether it exists or not. Raises ``DiscordSignInNeeded``
    or ``ModeratorCheckUnavailable`` when Discord cannot be asked.
    """
    if isinstance(request.user, MemberPrincipal):
        return request.user.guild_id
    raw = request.query_params.get("guild", "")
    if not raw:
        raise ValidationFailed("Staff sessions must name a guild: ?guild=<id>.", field="guild")
    # Not str.isdigit(): it accepts "²", which int() refuses (a 500), and ids past
    # BIGINT overflow SQLite.
    guild_id = parse_snowflake(raw, field="guild")
    if not request.user.is_superuser and guild_id not in moderated_guilds(request):
        raise NotFound("No such guild among the servers you moderate.")
    return guild_id


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
    """Who acted, and through which channel (for the audit log)."""
    if isinstance(request.user, MemberPrincipal):
        return f"api:discord:{request.user.member.discord_id}"
    return f"admin:{request.user.get_username()}"


def request_voter(request: Request) -> str:
    """The person a vote from this request belongs to (one person, one vote)."""
    if isinstance(request.user, MemberPrincipal):
        return discord_voter(request.user.member.discord_id)
    return staff_voter(request.user)


def is_moderator(request: Request) -> bool:
    """Moderator rights at this moment.

    A key: Discord's answer (cached ≤ 60 s); raises ``ModeratorCheckUnavailable``
    (a 503) when Discord cannot tell. A staff session: the Django permission,
    read with the user on every request, and (not an operator) in a guild its
    person moderates on Discord (``request_guild_id``: another guild is a 404).
    """
    user = request.user
    if isinstance(user, MemberPrincipal):
        member = user.member
        return member_is_moderator(
            guild_id=member.guild_id,
            user_id=member.discord_id,
            moderator_role_id=member.guild.moderator_role_id,
        )
    if not (user.is_staff and user.has_perm("markets.change_market")):
        return False
    request_guild_id(request)  # the guild named is one they moderate, or NotFound
    return True


def may_bypass_rate_limits(request: Request) -> bool:
    """Moderators are not rate limited; when in doubt, the limits apply.

    Only keys issued to a moderator are worth asking Discord about: every other
    request of every member would otherwise wait on Discord. (A member promoted
    since still moderates with their key; regenerating it lifts their limits too.)
    """
    user = request.user
    if isinstance(user, MemberPrincipal) and not user.issued_by_moderator:
        return False
    try:
        return is_moderator(request)
    except ModeratorCheckUnavailable:
        return False


class IsModerator(permissions.BasePermission):
    message = "Only moderators can do that."

    def has_permission(self, request: Request, view: APIView) -> bool:
        # Asked at every moderator action, never read from the key.
        return bool(request.user and request.user.is_authenticated and is_moderator(request))


class IsMember(permissions.BasePermission):
    message = "Only a member's API key can do that."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.user, MemberPrincipal)

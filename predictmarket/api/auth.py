"""API authentication: a member's personal key, or a staff user's admin session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from points.api_tokens import api_token_authenticate
from points.models import ApiToken, Member


@dataclass
class MemberPrincipal:
    """``request.user`` for a key: acts as that member, in that guild only.

    It holds no moderator flag: ``predictmarket.api.context.is_moderator`` asks
    Discord at the time of each moderator action.
    """

    member: Member
    issued_by_moderator: bool
    is_authenticated: bool = True
    is_staff: bool = False

    @property
    def pk(self) -> int:
        return self.member.pk

    @property
    def guild_id(self) -> int:
        return self.member.guild_id

    def __str__(self) -> str:
        return f"member {self.member.pk}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[MemberPrincipal, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme != self.keyword or not key.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <API key>'.")
        token = api_token_authenticate(key.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        return (
            MemberPrincipal(member=token.member, issued_by_moderator=token.issued_by_moderator),
            token,
        )

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (with WWW-Authenticate), not 403, when no key is sent.
        return f'{self.keyword} realm="api"'


class StaffSessionAuthentication(authentication.SessionAuthentication):
    """The admin's session, for staff only (with CSRF protection for writes).

    Which guilds it reaches is decided per request in
    ``predictmarket.api.context.request_guild_id``: every guild for an
    operator (a superuser), else the guilds Discord says its person moderates.
    """

    def authenticate(self, request: Request) -> tuple[Any, None] | None:
        result = super().authenticate(request)
        if result is None or not result[0].is_staff:
            return None
        return result


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "predictmarket.api.auth.ApiKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "A member's personal key from the /apikey command: "
            "`Authorization: Bearer pm_…`",
        }


class StaffSessionScheme(OpenApiAuthenticationExtension):
    target_class = "predictmarket.api.auth.StaffSessionAuthentication"
    name = "staffSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "apiKey", "in": "cookie", "name": "sessionid"}

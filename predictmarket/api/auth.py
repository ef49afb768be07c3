"""API authentication: a member's personal key, or a staff user's admin session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from points.api_tokens import KeyCredential, api_key_credential, api_token_authenticate
from points.models import ApiToken, Member


@dataclass
class MemberPrincipal:
    """``request.user`` for a key: acts as that member, in that guild only.

    It holds no moderator flag: ``predictmarket.api.context.is_moderator`` asks
    Discord at the time of each moderator action. A read verified from the cache
    carries the ids only; the member's row is read when a view first asks for it.
    """

    member_id: int
    guild_id: int
    issued_by_moderator: bool
    loaded_member: Member | None = field(default=None, repr=False)
    is_authenticated: bool = True
    is_staff: bool = False

    @property
    def member(self) -> Member:
        if self.loaded_member is None:
            found = (
                Member.objects.select_related("guild", "account").filter(pk=self.member_id).first()
            )
            if found is None:
                raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
            self.loaded_member = found
        return self.loaded_member

    @property
    def pk(self) -> int:
        return self.member_id

    def __str__(self) -> str:
        return f"member {self.member_id}"


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(
        self, request: Request
    ) -> tuple[MemberPrincipal, ApiToken | KeyCredential] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme != self.keyword or not key.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <API key>'.")
        if request.method in permissions.SAFE_METHODS:
            # Reads: verified from the cache (points.api_tokens), no query when warm.
            credential = api_key_credential(key.strip())
            if credential is None:
                raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
            principal = MemberPrincipal(
                member_id=credential.member_id,
                guild_id=credential.guild_id,
                issued_by_moderator=credential.issued_by_moderator,
            )
            return principal, credential
        token = api_token_authenticate(key.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("The API key is not valid or was revoked.")
        principal = MemberPrincipal(
            member_id=token.member_id,
            guild_id=token.member.guild_id,
            issued_by_moderator=token.issued_by_moderator,
            loaded_member=token.member,
        )
        return principal, token

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

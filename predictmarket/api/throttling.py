"""DRF throttles on the shared rate limiter (the same counters as the bot)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from predictmarket.api.auth import MemberPrincipal
from predictmarket.api.context import may_bypass_rate_limits
from predictmarket.ratelimit import rate_limit_hit

if TYPE_CHECKING:
    from rest_framework.views import APIView


class SharedRateLimit(BaseThrottle):
    """Commands per member and per guild; moderators bypass (as in Discord)."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not isinstance(user, MemberPrincipal):
            return True  # staff sessions are moderators
        bypass = may_bypass_rate_limits(request)
        # RateLimited propagates to the API's exception handler: 429 with
        # Retry-After and the limiter's own message.
        rate_limit_hit("command", user.member_id, bypass=bypass)
        rate_limit_hit("guild_command", user.guild_id, bypass=bypass)
        return True

    def wait(self) -> float | None:
        return None

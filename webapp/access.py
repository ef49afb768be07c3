"""Every members' page: signed in, in a guild the person belongs to, as their Member there.

``member_page`` resolves the guild in the URL against the guilds Discord says
the person is in (``webapp.membership``): any other guild is a 404, exactly as
a guild that does not exist, so a URL tells nothing about other guilds. The
person's ``Member`` row is made at first use with the guild's starting grant,
as the bot does. Domain errors, and our own database or Redis dropping out,
end on a page that says what happened, with the error's status, never a 500.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django_htmx.http import HttpResponseClientRedirect

from markets.models import Market
from points.models import Guild, Member
from points.services import member_ensure
from predictmarket.api.context import existing_id
from predictmarket.errors import DomainError, RateLimited, out_of_range_error, outage_error
from webapp.membership import member_guild, web_identity


@dataclass(frozen=True)
class MemberContext:
    guild: Guild
    member: Member


def error_page(request: HttpRequest, error: DomainError) -> HttpResponse:
    response = render(
        request,
        "webapp/error.html",
        {
            "error": error,
            "code": error.code,
            "message": error.message,
            # Signing in again (a new token) comes back to this page.
            "next": request.get_full_path() if request.method == "GET" else "/app/",
        },
        status=error.http_status,
    )
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after)
    return response


def as_domain_error(exc: Exception) -> DomainError | None:
    if isinstance(exc, DomainError):
        return exc
    return outage_error(exc) or out_of_range_error(exc)


def sign_in_first(request: HttpRequest) -> HttpResponse:
    """To the landing page's "Sign in with Discord", coming back here afterwards.

    An htmx poll (the live odds) of a page whose session ended is told to load the
    sign-in page as a whole, not to swap it into the odds table.
    """
    if request.headers.get("HX-Request") == "true":
        target = request.headers.get("HX-Current-URL") or request.get_full_path()
        login = redirect_to_login(_own_page(request, target))
        return HttpResponseClientRedirect(login["Location"])
    return redirect_to_login(request.get_full_path())


def _own_page(request: HttpRequest, url: str) -> str:
    """The path of ``url`` when it is a page of this site, else this request's path."""
    parts = urlsplit(url)
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return request.get_full_path()


def member_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Call ``view(request, ctx, **kwargs)`` for a member of the URL's guild, else 404."""

    @wraps(view)
    def wrapper(request: HttpRequest, guild_id: int, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            return sign_in_first(request)
        try:
            identity = web_identity(request.user)
            guild = member_guild(request.user, existing_id(guild_id))
            if guild is None:
                raise Http404("No such server among yours.")
            member = member_ensure(
                guild_id=guild.pk,
                discord_id=identity.discord_id,
                display_name=identity.display_name,
                guild_name=guild.name,
            )
            return view(request, MemberContext(guild=guild, member=member), **kwargs)
        except Exception as exc:
            error = as_domain_error(exc)
            if error is None:
                raise
            if error.http_status == 404:
                raise Http404(error.message) from None
            return error_page(request, error)

    return wrapper


def guild_market(ctx: MemberContext, market_id: int) -> Market:
    """A market of this guild only: another guild's market id is a 404 like a missing one."""
    market = (
        Market.objects.filter(pk=existing_id(market_id), guild_id=ctx.guild.pk)
        .select_related("creator", "guild")
        .first()
    )
    if market is None:
        raise Http404("No such market in this server.")
    return market

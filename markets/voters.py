"""Who a resolution vote belongs to: a person, whichever way the vote arrived.

A vote is keyed by the *person*, never by the channel: ``discord:<user id>`` for
a Discord user (from ``/resolve``, from their API key, or from the admin by a
staff user linked to them with ``StaffDiscordLink``), and ``user:<pk>`` for a
staff user not linked to Discord. An unlinked staff user is a separate identity:
the project cannot know which Discord user they are, so their vote never merges
with one, and never adds up with Discord users' votes towards a decision —
until a superuser links them, after which their earlier votes on undecided
markets become that Discord user's (see ``resolution_vote``).

The channel (bot, API, admin) is kept in the audit log, not in the vote.
"""

from __future__ import annotations

import re
from typing import Any

from predictmarket.errors import ValidationFailed
from predictmarket.models import StaffDiscordLink

VOTER = re.compile(r"^(discord|user):([1-9][0-9]{0,18})$")


def discord_voter(discord_id: int) -> str:
    return f"discord:{discord_id}"


def staff_voter(user: Any) -> str:
    """The person a staff user votes as: their linked Discord user, else themself."""
    link = StaffDiscordLink.objects.filter(user_id=user.pk).only("discord_id").first()
    return discord_voter(link.discord_id) if link else f"user:{user.pk}"


def voter_check(voter: str) -> str:
    """``voter`` if it names a person; a channel's actor string (``api:…``) is refused."""
    if not VOTER.match(voter):
        raise ValidationFailed(
            "A vote belongs to a person: discord:<user id> or user:<staff user id>.",
            field="voter",
        )
    return voter


def vote_channel(actor: str) -> str:
    """Which way a vote came, from the acting channel's actor string (for the audit log)."""
    if actor.startswith("api:"):
        return "api"
    if actor.startswith("admin:"):
        return "admin"
    if actor.startswith("discord:"):
        return "bot"
    return "system"


def voter_describe(voter: str, *, names: dict[str, str] | None = None) -> str:
    """How the admin shows an identity: ``Discord user 123 (alice)``, ``staff user bob (…)``.

    ``names`` maps voters to the names to show (a member's display name, a
    staff user's username), when the caller looked them up.
    """
    names = names or {}
    kind, _, ident = voter.partition(":")
    if kind == "discord":
        name = names.get(voter)
        return f"Discord user {ident} ({name})" if name else f"Discord user {ident}"
    if kind == "user":
        return f"staff user {names.get(voter, '#' + ident)} (not linked to Discord)"
    return voter


def staff_identity_sentence(user: Any) -> str:
    """What the admin's vote form says about the identity a vote will be cast as."""
    voter = staff_voter(user)
    if voter.startswith("discord:"):
        return (
            f"Your vote is cast as Discord user {voter.partition(':')[2]} (linked to your "
            "account): it counts once with that person's votes from Discord or the API."
        )
    return (
        f"Your vote is cast as staff user {user.get_username()}, not linked to a Discord "
        "account. It never adds up with votes cast by Discord users (you may be one of "
        "them): it counts only with other unlinked staff users' votes. Ask a superuser to "
        "link your Discord account (Users → your user → Discord account)."
    )

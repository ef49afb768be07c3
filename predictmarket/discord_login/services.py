"""The one write of signing in: which Discord user a web user is."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction

from predictmarket.audit import audit_record
from predictmarket.errors import Conflict
from predictmarket.models import StaffDiscordLink


class DiscordAlreadyLinked(Conflict):
    code = "discord_already_linked"
    default_message = (
        "This Discord account is already linked to another user of this site, so it "
        "cannot sign in as a second one. If the link is wrong, an operator can remove it "
        "in the admin (Users → the user → Discord account)."
    )


def discord_link_check(*, user_id: int | None, discord_id: int) -> None:
    """Refuse a Discord user linked to someone other than ``user_id`` (``None``: a new user).

    One Discord user is one person: two web users sharing them would count as one
    voter with two logins, and the second would act as the first.
    """
    owner = (
        StaffDiscordLink.objects.filter(discord_id=discord_id)
        .values_list("user_id", flat=True)
        .first()
    )
    if owner is not None and owner != user_id:
        raise DiscordAlreadyLinked(discord_id=str(discord_id))


class LinkedToAnotherDiscord(DiscordAlreadyLinked):
    code = "linked_to_another_discord"
    default_message = (
        "This user of the site is linked to a different Discord account. Signing in "
        "never moves that link (one person, one vote); an operator can change it in the "
        "admin (Users → the user → Discord account)."
    )


def discord_link_ensure(*, user: Any, discord_id: int) -> StaffDiscordLink:
    """Link ``user`` to ``discord_id`` if it has no link; refuse a taken id or a different link.

    Signing in never moves an existing link: a staff user who could move theirs to
    an alt would vote through the admin as the alt while the original account
    still votes in Discord. Only an operator changes a link (the admin).
    """
    with transaction.atomic():
        discord_link_check(user_id=user.pk, discord_id=discord_id)
        link = StaffDiscordLink.objects.select_for_update().filter(user_id=user.pk).first()
        if link is not None:
            if link.discord_id != discord_id:
                raise LinkedToAnotherDiscord(discord_id=str(discord_id))
            return link
        try:
            # A savepoint: a concurrent sign-in that took the id first fails here alone.
            with transaction.atomic():
                link = StaffDiscordLink.objects.create(user=user, discord_id=discord_id)
        except IntegrityError as exc:
            raise DiscordAlreadyLinked(discord_id=str(discord_id)) from exc
        audit_record(
            actor=f"user:{user.pk}",
            action="user.discord_linked",
            target=link,
            data={"discord_id": str(discord_id), "before": None},
        )
        return link

"""Which guilds show public pages, cached: a public page's conditional GET needs no database.

Cached for ``MARKET_LIST_TTL`` seconds and dropped when the guild row is saved
(a moderator turning public pages off, a rename). A bulk ``update()`` skips
the signal; the TTL bounds how long a page outlives it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from points.models import Guild
from predictmarket.cache_errors import CACHE_ERRORS
from predictmarket.cache_metrics import count_cache_read

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PublicGuild:
    """What a public page shows of its guild (the templates read ``pk`` and ``name``)."""

    pk: int
    name: str


_NOT_PUBLIC = "-"


def _key(guild_id: int) -> str:
    return f"guild:1:{guild_id}:public"


def _load(guild_id: int) -> PublicGuild | None:
    row = Guild.objects.filter(pk=guild_id, public_pages=True).values_list("pk", "name").first()
    return PublicGuild(*row) if row else None


def public_guild(guild_id: int) -> PublicGuild | None:
    """The guild if it turned public pages on; None otherwise (the page is a 404)."""
    if not settings.READ_CACHE_ENABLED:
        return _load(guild_id)
    try:
        cached = cache.get(_key(guild_id))
    except CACHE_ERRORS:
        count_cache_read("public_guild", "error")
        return _load(guild_id)
    if cached is not None:
        count_cache_read("public_guild", "hit")
        return None if cached == _NOT_PUBLIC else cached
    count_cache_read("public_guild", "miss")
    guild = _load(guild_id)
    try:
        cache.set(_key(guild_id), guild or _NOT_PUBLIC, timeout=settings.MARKET_LIST_TTL)
    except CACHE_ERRORS:
        logger.warning("guild %s: could not cache its public-pages flag", guild_id)
    return guild


@receiver(post_save, sender=Guild, dispatch_uid="points.public_guild.forget")
def _forget_on_save(sender: Any, instance: Guild, **kwargs: Any) -> None:
    def forget() -> None:
        try:
            cache.delete(_key(instance.pk))
        except CACHE_ERRORS:
            logger.warning("guild %s: could not drop its cached public flag", instance.pk)

    transaction.on_commit(forget)

"""Which posts of a market go to its thread: only while the guild has market threads on."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import nextcord
import pytest

from botrunner.reads import market_card
from botrunner.threads import thread_name, wants_thread
from points.models import Guild

pytestmark = pytest.mark.django_db(transaction=True)


def _inv(channel_type: nextcord.ChannelType) -> SimpleNamespace:
    return SimpleNamespace(interaction=SimpleNamespace(channel=SimpleNamespace(type=channel_type)))


def test_a_market_gets_a_thread_only_when_the_guild_turned_them_on(guild, market) -> None:
    text = _inv(nextcord.ChannelType.text)
    assert not wants_thread(text, market_card(market.pk))
    Guild.objects.filter(pk=guild.pk).update(market_threads=True)
    card = market_card(market.pk)
    assert card.market_threads and card.thread_id is None
    assert wants_thread(text, card)
    # Discord has no thread in a thread: posted from one, the market stays there.
    assert not wants_thread(_inv(nextcord.ChannelType.public_thread), card)


def test_a_market_with_a_thread_goes_back_to_the_channel_when_threads_are_off(market) -> None:
    card = replace(market_card(market.pk), thread_id=882_000_000_000_000_002)
    assert not wants_thread(_inv(nextcord.ChannelType.text), card)
    assert wants_thread(_inv(nextcord.ChannelType.text), replace(card, market_threads=True))


def test_the_thread_is_named_after_the_market_within_discords_limit(market) -> None:
    card = replace(market_card(market.pk), question="Will it\n  rain " + "a" * 200)
    name = thread_name(card)
    assert name.startswith(f"#{market.pk} Will it rain aaa")
    assert len(name) <= 100

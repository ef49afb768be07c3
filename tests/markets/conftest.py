"""Personas for the markets suite: a guild, a market creator, a member, an outsider."""

from __future__ import annotations

import pytest

from markets.models import Market
from points.models import Guild, Member
from tests.markets.helpers import make_guild, make_market, make_member


@pytest.fixture
def guild(db: None) -> Guild:
    """A guild with the default settings (two agreeing votes decide a market)."""
    return make_guild(min_resolution_votes=2)


@pytest.fixture
def creator(guild: Guild) -> Member:
    return make_member(guild, "creator")


@pytest.fixture
def bettor(guild: Guild) -> Member:
    return make_member(guild, "bettor")


@pytest.fixture
def outsider(db: None) -> Member:
    """A member of another guild."""
    return make_member(make_guild(), "outsider")


@pytest.fixture
def market(creator: Member) -> Market:
    """An open Yes/No market, closing in a day."""
    return make_market(creator)

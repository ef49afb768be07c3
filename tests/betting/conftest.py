"""Personas for the betting suite: a guild, a creator, two bettors, an outsider, a market."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_django import Settings

from markets.models import Market
from points.models import Guild, Member
from tests.markets.helpers import make_guild, make_market, make_member


@pytest.fixture
def guild(db: None) -> Guild:
    """A guild with the default settings (1,000 starting points, two votes decide)."""
    return make_guild(min_resolution_votes=2)


@pytest.fixture
def creator(guild: Guild) -> Member:
    return make_member(guild, "creator")


@pytest.fixture
def bettor(guild: Guild) -> Member:
    return make_member(guild, "bettor")


@pytest.fixture
def rival(guild: Guild) -> Member:
    """A second member, betting against ``bettor``."""
    return make_member(guild, "rival")


@pytest.fixture
def outsider(db: None) -> Member:
    """A member of another guild."""
    return make_member(make_guild(), "outsider")


@pytest.fixture
def market(creator: Member) -> Market:
    """An open Yes/No market, closing in a day."""
    return make_market(creator)


@pytest.fixture
def tasks_go_to_the_broker(settings: Settings) -> Iterator[None]:
    """Tasks enqueued on commit are sent to the broker, not run inline.

    Some tests elsewhere set ``app.conf.task_always_eager`` directly, which
    outlives them; these tests need the real path (nothing settles until a
    worker or the test itself runs the settlement).
    """
    from predictmarket.celery import app

    settings.CELERY_TASK_ALWAYS_EAGER = False
    # An assignment to app.conf lands in its "changes" layer, which shadows the
    # Django settings; put that layer back exactly as it was afterwards.
    changes = app.conf.changes
    had_override, previous = "task_always_eager" in changes, changes.get("task_always_eager")
    changes.pop("task_always_eager", None)
    yield
    if had_override:
        changes["task_always_eager"] = previous
    else:
        changes.pop("task_always_eager", None)

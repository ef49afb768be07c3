"""Personas for the betting suite: a guild, a creator, two bettors, an outsider, a market."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_django import Settings

from points.models import Guild, Member
from tests.markets.conftest import bettor, creator, guild, market, outsider
from tests.markets.helpers import make_member

# The markets suite's personas, shared (pytest finds fixtures imported into a conftest).
__all__ = ["bettor", "creator", "guild", "market", "outsider"]


@pytest.fixture
def rival(guild: Guild) -> Member:
    """A second member, betting against ``bettor``."""
    return make_member(guild, "rival")


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

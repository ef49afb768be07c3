"""The data migration that turns channel-keyed votes into one vote per person.

Votes cast before it were keyed ``discord:<id>`` (bot), ``api:discord:<id>``
(API) and ``admin:<username>`` (admin); one moderator could hold two votes on a
market. The migration keeps each person's latest vote. It is found by its name,
not its number (the number may change when branches are merged).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import pytest
from django.apps import apps
from django.contrib.auth import get_user_model

import markets.migrations
from markets.models import Market, ResolutionVote
from markets.services import market_close
from points.models import Member
from tests.markets.helpers import make_market


def _migration() -> ModuleType:
    folder = Path(markets.migrations.__file__).parent
    (path,) = folder.glob("*_votes_belong_to_people.py")
    return importlib.import_module(f"markets.migrations.{path.stem}")


@pytest.mark.parametrize(
    ("legacy", "person"),
    [
        ("discord:730000000000000001", "discord:730000000000000001"),
        ("api:discord:730000000000000001", "discord:730000000000000001"),
        ("admin:staffer", "user:41"),
        ("admin:nobody-by-that-name", "admin:nobody-by-that-name"),
        ("user:41", "user:41"),
    ],
)
def test_each_legacy_voter_maps_to_its_person(legacy: str, person: str) -> None:
    assert _migration().person_key(legacy, {"staffer": 41}) == person


@pytest.mark.django_db
def test_a_persons_votes_through_two_channels_merge_into_the_latest(member: Member) -> None:
    market = make_market(member)
    market_close(market_id=market.pk, actor="discord:1")
    yes, no = market.outcomes.order_by("index")
    staffer = get_user_model().objects.create_user("staffer", password="unused")
    other: Market = make_market(member, question="Another market?")
    # Legacy rows, as the old code wrote them (oldest first).
    ResolutionVote.objects.create(market=market, voter="discord:7", outcome=yes)
    ResolutionVote.objects.create(market=market, voter="api:discord:7", outcome=no)
    ResolutionVote.objects.create(market=market, voter="api:discord:8", outcome=yes)
    ResolutionVote.objects.create(market=market, voter="admin:staffer", outcome=None)
    ResolutionVote.objects.create(market=other, voter="api:discord:7", outcome=None)

    _migration().votes_to_people(apps, None)

    assert sorted(ResolutionVote.objects.values_list("market_id", "voter", "outcome_id")) == sorted(
        [
            (market.pk, "discord:7", no.pk),  # the later of the two
            (market.pk, "discord:8", yes.pk),
            (market.pk, f"user:{staffer.pk}", None),
            (other.pk, "discord:7", None),
        ]
    )

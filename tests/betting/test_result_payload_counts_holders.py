"""The result announcement's payload is bounded (top 10) but says how many holders there are."""

from __future__ import annotations

import pytest

from betting.settlement import settle_resolved_market
from points.models import Guild, Member
from predictmarket.models import OutboxEvent
from tests.betting.helpers import bet
from tests.markets.helpers import decide, make_market, make_member


@pytest.mark.parametrize("public", [True, False])
def test_the_payload_carries_every_holder_count_and_the_page_link(
    guild: Guild, creator: Member, settings, public: bool
) -> None:
    settings.PUBLIC_BASE_URL = "https://markets.example"
    guild.public_pages = public
    guild.save(update_fields=["public_pages"])
    market = make_market(creator, options=["Yes", "No"])
    for n in range(12):
        bet(make_member(guild, f"holder{n}"), market, 0, 20 + n)
    decide(market, outcome_index=0)
    settle_resolved_market(market_id=market.pk)

    payload = OutboxEvent.objects.get(kind="market.settled", aggregate_id=str(market.pk)).payload
    assert len(payload["top"]) == 10
    assert payload["holders"] == 12
    if public:
        assert payload["url"] == f"https://markets.example/g/{guild.pk}/markets/{market.pk}/"
    else:
        assert not payload.get("url")

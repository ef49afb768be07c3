"""Result announcements end with "and N more" when more members held than are listed, and a link."""

from __future__ import annotations

import pytest

from botrunner.announcements import build_announcement

TOP = [{"display_name": f"m{n}", "amount": 100 - n} for n in range(10)]


@pytest.mark.parametrize(
    "kind",
    ["market.settled", "market.refunded", "market.auto_refunded", "market.correction_settled"],
)
def test_it_says_how_many_more_and_links_the_page(kind: str) -> None:
    payload = {
        "market_id": 7,
        "question": "Q?",
        "top": TOP,
        "holders": 14,
        "url": "https://x.example/g/1/markets/7/",
        "from": "A",
        "to": "B",
    }
    description = build_announcement(kind, payload).embed.description
    assert "and 4 more" in description
    assert "https://x.example/g/1/markets/7/" in description


def test_no_more_line_when_everyone_is_listed_and_no_link_without_public_pages() -> None:
    payload = {"market_id": 7, "question": "Q?", "top": TOP[:3], "holders": 3}
    description = build_announcement("market.settled", payload).embed.description
    assert "more" not in description
    assert "http" not in description

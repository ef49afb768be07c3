"""``/market list``: open first, sorted, filtered, counted, paged by custom ids in one guild.

The end-to-end tests (``e2e/test_market_list_shows_open_markets_first.py``) walk
the same paths through the real bot; these pin the details fast.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from botrunner.cogs.markets import market_list_command
from botrunner.dispatch import dispatch_interaction
from botrunner.list_pager import (
    LAST_PAGE,
    PICKED_PAGE,
    ListQuery,
    jump_pages,
    pager_custom_id,
    parse_pager,
)
from botrunner.reads import market_page
from markets.models import Market
from markets.services import market_close, market_create
from points.models import Guild
from points.services import guild_ensure
from tests.botrunner.conftest import member_for, run
from tests.botrunner.fakes import FakeGuild, component

pytestmark = pytest.mark.django_db(transaction=True)


def _make_markets(guild: Guild, creator_user, count: int, **kwargs) -> list[Market]:
    creator = member_for(creator_user, guild)
    return [
        market_create(
            creator=creator,
            question=f"Question number {n}?",
            options=["Yes", "No"],
            duration=timedelta(hours=1 + n),
            category="sports" if n % 2 else "games",
            actor="test",
            bypass_rate_limit=True,
            **kwargs,
        )
        for n in range(count)
    ]


def _numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"Question number (\d+)\?", text)]


def test_list_pages_through_the_markets_with_first_previous_next_last(
    slash, guild, discord_guild, alice
) -> None:
    _make_markets(guild, alice, 7)
    first = slash(alice)
    run(market_list_command(first))
    assert first.last.ephemeral
    assert _numbers(first.last.text) == [0, 1, 2, 3, 4]  # the soonest to close first
    assert "Showing 1\N{EN DASH}5 of 7 markets" in first.last.text
    assert "Page 1 of 2" in first.last.text
    first_button, previous, following, last, go_to = first.last.view.children
    assert [(o.label, o.default) for o in go_to.options] == [("Page 1", True), ("Page 2", False)]
    assert go_to.custom_id == "pm:mls:g:-c:0:"
    assert [b.label for b in (first_button, previous, following, last)] == [
        "First",
        "Previous",
        "Next",
        "Last",
    ]
    assert first_button.disabled and previous.disabled and not following.disabled
    assert following.custom_id == "pm:mls:1n:-c:0:"
    assert last.custom_id == "pm:mls:l:-c:0:"

    second = component(alice, discord_guild, last.custom_id)
    run(dispatch_interaction(second))
    assert second.log == ["defer", "edit_original"]
    assert _numbers(second.last.text) == [5, 6]
    assert "Showing 6\N{EN DASH}7 of 7 markets" in second.last.text
    assert second.last.view.children[2].disabled and second.last.view.children[3].disabled

    picked = component(alice, discord_guild, go_to.custom_id, values=["0"])
    run(dispatch_interaction(picked))
    assert _numbers(picked.last.text) == [0, 1, 2, 3, 4]


def test_closed_and_decided_markets_come_after_the_open_ones(guild, alice) -> None:
    markets = _make_markets(guild, alice, 4)
    market_close(market_id=markets[0].pk, actor="test")
    Market.objects.filter(pk=markets[1].pk).update(status="cancelled")
    found = market_page(
        guild_id=guild.pk, status=None, category=None, search=None, sort="newest", page=0, size=10
    )
    assert [row.market_id for row in found.rows] == [
        markets[3].pk,
        markets[2].pk,  # open, newest first
        markets[0].pk,  # closed, awaiting a decision
        markets[1].pk,  # decided
    ]
    assert (found.total, found.pages, found.first) == (4, 1, 1)


def test_a_page_spans_two_states_and_a_page_past_the_end_is_the_last(guild, alice) -> None:
    markets = _make_markets(guild, alice, 5)
    for market in markets[:2]:
        market_close(market_id=market.pk, actor="test")

    def page(number: int) -> list[int]:
        found = market_page(
            guild_id=guild.pk,
            status=None,
            category=None,
            search=None,
            sort="closing",
            page=number,
            size=2,
        )
        return [row.market_id for row in found.rows]

    open_ids = [m.pk for m in markets[2:]]
    assert page(0) == open_ids[:2]
    assert page(1) == [open_ids[2], markets[1].pk]  # the rest open, then the latest closed
    assert page(2) == [markets[0].pk]
    assert page(LAST_PAGE) == page(99) == page(2)


def test_list_sorts_by_volume_and_filters_by_status_category_and_search(
    slash, guild, discord_guild, alice
) -> None:
    markets = _make_markets(guild, alice, 4)
    Market.objects.filter(pk=markets[1].pk).update(status="closed")
    Market.objects.filter(pk=markets[0].pk).update(volume=50)
    Market.objects.filter(pk=markets[2].pk).update(volume=500)
    by_volume = slash(alice)
    run(market_list_command(by_volume, sort="volume"))
    assert _numbers(by_volume.last.text) == [2, 0, 3, 1]
    assert "open first, most traded first" in by_volume.last.text
    by_category = slash(alice)
    run(market_list_command(by_category, category="  SPORTS "))
    assert _numbers(by_category.last.text) == [3, 1]
    by_status = slash(alice)
    run(market_list_command(by_status, status="closed"))
    assert _numbers(by_status.last.text) == [1]
    assert "most recently closed first" in by_status.last.text
    by_search = slash(alice)
    run(market_list_command(by_search, search="number 3", category="sports", sort="newest"))
    assert _numbers(by_search.last.text) == [3]
    # The filters travel in the pager's custom ids.
    assert by_search.last.view.children[2].custom_id == "pm:mls:1n:-n:6:sportsnumber 3"


def test_a_pager_click_lists_the_clickers_guild_only(slash, guild, discord_guild, alice) -> None:
    _make_markets(guild, alice, 2)
    shown = slash(alice)
    run(market_list_command(shown))
    elsewhere = FakeGuild(id=760_000_000_000_000_999, name="Elsewhere")
    guild_ensure(guild_id=elsewhere.id, name=elsewhere.name)
    clicked = component(alice, elsewhere, shown.last.view.children[0].custom_id)
    run(dispatch_interaction(clicked))
    assert "No market matches." in clicked.last.text
    assert _numbers(clicked.last.text) == []


def test_an_unreadable_pager_id_is_refused_and_changes_nothing(
    slash, guild, discord_guild, alice
) -> None:
    _make_markets(guild, alice, 1)
    for broken in ("pm:mls:xn:-c:0:", "pm:mls:1n:?c:0:", "pm:mls:1n:-c:9:ab", "pm:mls:"):
        clicked = component(alice, discord_guild, broken)
        run(dispatch_interaction(clicked))
        assert clicked.last.ephemeral
        assert "out of date" in clicked.last.text
        assert "Question number" not in clicked.last.text


def test_an_unknown_status_or_order_is_refused(slash, guild, alice) -> None:
    _make_markets(guild, alice, 1)
    for options in ({"status": "pending"}, {"sort": "random"}):
        interaction = slash(alice)
        run(market_list_command(interaction, **options))
        assert interaction.last.ephemeral
        assert "Unknown" in interaction.last.text
        assert "Question number" not in interaction.last.text


@pytest.mark.parametrize(
    "query",
    [
        ListQuery(),
        ListQuery("refunded", "volume", "a:b", "c:d"),
        ListQuery("open", "newest", "x" * 50, "y" * 30),
        ListQuery("", "closing", "", "only: search"),
    ],
)
def test_a_pager_id_reads_back_as_the_query_it_was_made_from(query: ListQuery) -> None:
    for token, page in (("f", 0), ("l", LAST_PAGE), ("g", PICKED_PAGE), ("7p", 7), ("12n", 12)):
        value = pager_custom_id(query, token)
        assert len(value) <= 100
        assert parse_pager(value.split(":")[2:]) == query.at(page)


@pytest.mark.parametrize("page, pages", [(0, 1), (3, 25), (0, 26), (500, 1000), (999, 1000)])
def test_go_to_page_offers_at_most_25_pages_with_the_ends_and_neighbours(page, pages) -> None:
    offered = jump_pages(page, pages)
    assert len(offered) == len(set(offered)) <= 25
    assert offered == sorted(offered) and offered[0] == 0 and offered[-1] == pages - 1
    assert {0, pages - 1, page, max(0, page - 1), min(pages - 1, page + 1)} <= set(offered)
    if pages > 25:
        assert len(offered) >= 20  # spread over the whole list, not only around the page


def test_a_bad_page_pick_is_refused(slash, guild, discord_guild, alice) -> None:
    _make_markets(guild, alice, 1)
    for values in ([], ["x"], ["1", "2"]):
        picked = component(alice, discord_guild, "pm:mls:g:-c:0:", values=values)
        run(dispatch_interaction(picked))
        assert "out of date" in picked.last.text

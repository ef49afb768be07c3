"""The public pages as a visitor sees them: headless Chromium (Debian's) driven by Playwright.

Never downloads a browser (no ``playwright install``): it drives /usr/bin/chromium.
Without it the tests are skipped with the reason, except in CI (``CI=true``),
where a missing browser is a failure: CI installs Debian's chromium.
Screenshots go to tests/api/screenshots/ (not committed) for a person to look at.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer

from betting.services import bet_place
from markets.models import Market
from points.models import Guild, Member
from points.services import member_ensure
from tests.api.helpers import open_market
from tests.factories import GuildFactory

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).with_name("screenshots")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

if not CHROMIUM.exists() and os.environ.get("CI"):
    pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium", pytrace=False)

pytestmark = [
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Debian's chromium at {CHROMIUM}"),
    # The live server answers from another thread, so the data must be committed.
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def public_guild(db: None) -> Guild:
    return GuildFactory(name="Town square", public_pages=True)


@pytest.fixture
def traders(public_guild: Guild) -> list[Member]:
    return [
        member_ensure(
            guild_id=public_guild.pk, discord_id=840_000_000_000_000_000 + i, display_name=n
        )
        for i, n in enumerate(["ada", "ben", "cleo", "dev"])
    ]


@pytest.fixture
def traded_market(traders: list[Member]) -> Market:
    """Three outcomes and a few trades, so the chart has moves and the leaderboard an order."""
    market = open_market(
        traders[0], question="Which café opens first?", options=("North", "Harbour", "Station")
    )
    for i, (member, outcome, amount) in enumerate(
        [(traders[1], 0, 150), (traders[2], 1, 60), (traders[3], 0, 90), (traders[2], 2, 40)]
    ):
        bet_place(
            member=member,
            market_id=market.pk,
            outcome_index=outcome,
            amount=amount,
            idempotency_key=f"browser-{i}",
            bypass_rate_limit=True,
        )
    return market


@pytest.fixture
def browser() -> Iterator[Browser]:
    # Everything the test needs from the database is made before this starts:
    # Playwright's sync API runs an event loop, and Django refuses ORM calls under one.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    yield page
    page.close()


def screenshot(page: Page, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def test_the_market_page_shows_probabilities_and_a_chart(
    live_server: LiveServer, public_guild: Guild, traded_market: Market, page: Page
) -> None:
    response = page.goto(f"{live_server.url}/g/{public_guild.pk}/markets/{traded_market.pk}/")

    assert response is not None and response.status == 200
    assert page.locator("h1").inner_text() == "Which café opens first?"
    cells = page.locator("td[data-probability]")
    assert cells.count() == 3
    shown = [cells.nth(i).inner_text() for i in range(3)]
    assert all(re.fullmatch(r"\d{1,3}%", text) for text in shown), shown
    percents = [int(text.rstrip("%")) for text in shown]
    assert 98 <= sum(percents) <= 102, percents  # each is rounded on its own
    exact = [Decimal(cells.nth(i).get_attribute("data-probability")) for i in range(3)]
    assert abs(sum(exact) - 1) < Decimal("0.0001"), exact
    assert [round(p * 100) for p in exact] == percents
    assert percents[0] == max(percents)  # North was bought most
    chart = page.locator("svg#price-chart")
    assert chart.is_visible()
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    lines = chart.locator("polyline")
    assert lines.count() == 3  # one line per outcome
    for i in range(3):
        points = lines.nth(i).get_attribute("points").split()
        assert len(points) >= 2 * 4  # a step per trade, drawn to "now"
        assert lines.nth(i).is_visible()
    colours = {lines.nth(i).get_attribute("stroke") for i in range(3)}
    assert len(colours) == 3
    assert page.locator("figcaption li").all_inner_texts() == [
        f"North: {percents[0]}%",
        f"Harbour: {percents[1]}%",
        f"Station: {percents[2]}%",
    ]
    screenshot(page, "market")


def test_the_leaderboard_ranks_the_members(
    live_server: LiveServer, public_guild: Guild, traded_market: Market, page: Page
) -> None:
    response = page.goto(f"{live_server.url}/g/{public_guild.pk}/leaderboard/")

    assert response is not None and response.status == 200
    rows = page.locator("table#leaderboard tbody tr")
    assert rows.count() == 4
    table = [rows.nth(i).locator("td").all_inner_texts() for i in range(4)]
    # ada spent nothing; the others by what they spent (ben 150, cleo 100, dev 90).
    assert [row[1] for row in table] == ["ada", "dev", "cleo", "ben"]
    assert [row[0] for row in table] == ["1", "2", "3", "4"]
    assert [row[2] for row in table] == ["1000", "910", "900", "850"]
    screenshot(page, "leaderboard")


def test_the_markets_page_links_to_each_market(
    live_server: LiveServer, public_guild: Guild, traded_market: Market, page: Page
) -> None:
    page.goto(f"{live_server.url}/g/{public_guild.pk}/")
    page.get_by_role("link", name="Which café opens first?").click()

    assert page.url.endswith(f"/g/{public_guild.pk}/markets/{traded_market.pk}/")
    assert page.locator("svg#price-chart").is_visible()


@pytest.fixture
def private_market(member: Member) -> Market:
    """A market of ``guild``, whose public pages are off (the default)."""
    return open_market(member, question="A private question?")


def test_a_guild_without_public_pages_shows_nothing(
    live_server: LiveServer, guild: Guild, private_market: Market, page: Page
) -> None:
    for path in [
        f"/g/{guild.pk}/",
        f"/g/{guild.pk}/markets/{private_market.pk}/",
        f"/g/{guild.pk}/leaderboard/",
    ]:
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None and response.status == 404, path
        assert "A private question?" not in page.content()


def test_a_market_of_another_guild_is_not_on_this_guilds_pages(
    live_server: LiveServer, public_guild: Guild, foreign_market: Market, page: Page
) -> None:
    url = f"{live_server.url}/g/{public_guild.pk}/markets/{foreign_market.pk}/"
    response = page.goto(url)
    assert response is not None and response.status == 404
    assert foreign_market.question not in page.content()

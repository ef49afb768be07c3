"""The members' web app in Debian's Chromium (Playwright), signed in through the emulator.

A member signs in with Discord in the browser (the emulator's OAuth2 routes),
bets through the pages, and sees the bet in their portfolio and in the live
odds of another member's page, which update without a reload. A double-clicked
Confirm places one bet; a quote the price moved away from is refused and quoted
again. The pages fit a 375-pixel-wide phone without scrolling sideways.

As in tests/api/test_public_pages_in_a_browser.py: never downloads a browser;
without /usr/bin/chromium the tests are skipped, except in CI where that fails.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, TypeVar

import pytest
from django.db import connection
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from betting.models import Trade
from markets.models import Market
from tests.api.test_public_pages_in_a_browser import CHROMIUM, CHROMIUM_ARGS, screenshot
from tests.discord_emulator import Persona
from tests.web.app.conftest import MembersApp, configure_signin
from webapp import trading

if not CHROMIUM.exists() and os.environ.get("CI"):
    pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium", pytrace=False)

pytestmark = [
    pytest.mark.web,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Debian's chromium at {CHROMIUM}"),
    # The live server answers from other threads, so the data must be committed.
    pytest.mark.django_db(transaction=True),
]

T = TypeVar("T")


def from_database(read: Callable[[], T]) -> T:
    """Run an ORM read off Playwright's event loop (Django refuses the ORM under one)."""

    def run() -> T:
        try:
            return read()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def browser_app(members_app: MembersApp, live_server: LiveServer, settings: Settings) -> MembersApp:
    # Discord sends the browser back to the live server, as registered.
    configure_signin(
        settings, members_app.emulator, f"{live_server.url}/accounts/discord/login/callback/"
    )
    return members_app


@pytest.fixture
def market(browser_app: MembersApp) -> Market:
    maker = browser_app.person("maker")
    return browser_app.market(
        browser_app.harbour, maker, question="Will the ferry run on Sunday?", options=("Yes", "No")
    )


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def contexts(browser: Browser) -> Iterator[Callable[..., BrowserContext]]:
    made: list[BrowserContext] = []

    def new(**kwargs: Any) -> BrowserContext:
        context = browser.new_context(**kwargs)
        made.append(context)
        return context

    yield new
    for context in made:
        context.close()


def sign_in(page: Page, app: MembersApp, live_server: LiveServer, persona: Persona) -> None:
    """Through the landing page's button, Discord's consent page (emulated) and back."""
    app.emulator.oauth.signed_in(persona)
    page.goto(f"{live_server.url}/app/")
    assert "/?next=" in page.url  # signed out: sent to sign in first
    page.get_by_role("button", name="Sign in with Discord").click()
    page.wait_for_url(f"{live_server.url}/app/")
    expect(page.locator("#my-guilds")).to_contain_text("Harbour")


def open_market_page(page: Page, live_server: LiveServer, market: Market) -> None:
    page.goto(f"{live_server.url}/app/")
    page.get_by_role("link", name="Harbour").click()
    page.get_by_role("link", name=market.question).click()
    expect(page.locator("h1")).to_have_text(market.question)


def quote_bet(page: Page, answer: str, amount: int) -> Decimal:
    page.locator("#buy-form select").select_option(label=answer)
    page.locator("#buy-form input[name=amount]").fill(str(amount))
    page.locator("#buy-form button").click()
    expect(page.locator("h1")).to_have_text("Confirm your bet")
    return Decimal(page.locator("#confirm-form input[name=min_shares]").get_attribute("value"))


def probabilities(page: Page) -> list[Decimal]:
    cells = page.locator("#odds td[data-probability]")
    return [Decimal(cells.nth(i).get_attribute("data-probability")) for i in range(cells.count())]


def test_a_bet_shows_in_the_portfolio_and_in_another_pages_live_odds(
    browser_app: MembersApp, live_server: LiveServer, market: Market, contexts: Any
) -> None:
    ana, ben = browser_app.person("ana"), browser_app.person("ben")
    ana_page = contexts().new_page()
    ben_page = contexts().new_page()
    sign_in(ana_page, browser_app, live_server, ana)
    sign_in(ben_page, browser_app, live_server, ben)
    open_market_page(ben_page, live_server, market)
    assert probabilities(ben_page) == [Decimal("0.5"), Decimal("0.5")]
    ben_page.evaluate("window.notReloaded = true")

    open_market_page(ana_page, live_server, market)
    shares = quote_bet(ana_page, "Yes", 200)
    ana_page.locator("#confirm-form button").click()

    expect(ana_page.get_by_role("status")).to_contain_text("Bought")
    after = probabilities(ana_page)
    assert after[0] > Decimal("0.5")
    # Ben's page catches up by itself (htmx polls the odds), without a reload.
    expect(ben_page.locator("#odds td[data-probability]").first).to_have_attribute(
        "data-probability", str(after[0]), timeout=10_000
    )
    assert probabilities(ben_page) == after
    # The chart's legend and the recent trades follow in the same poll.
    expect(ben_page.locator("#recent-trades")).to_contain_text("ana")
    expect(ben_page.locator("#price-history figcaption")).to_contain_text(
        f"Yes: {round(after[0] * 100)}%"
    )
    assert ben_page.evaluate("window.notReloaded") is True
    screenshot(ben_page, "webapp-market")

    ana_page.get_by_role("link", name="Portfolio").click()
    row = ana_page.locator("#holdings tbody tr")
    expect(row).to_have_count(1)
    cells = row.locator("td").all_inner_texts()
    assert cells[0] == market.question and cells[1] == "Yes"
    assert Decimal(cells[2]) == shares.quantize(Decimal("0.01"))
    value = Decimal(ana_page.locator("#portfolio-value").inner_text())
    assert value == (shares * after[0]).quantize(Decimal("0.01"))
    assert Decimal(ana_page.locator("#portfolio-profit").inner_text()) == value - 200
    screenshot(ana_page, "webapp-portfolio")


# Two submissions at once need a database that serialises them: SQLite's in-memory
# test database is one connection shared by the live server's threads.
@pytest.mark.postgres
def test_a_double_clicked_confirm_places_one_bet(
    browser_app: MembersApp,
    live_server: LiveServer,
    market: Market,
    contexts: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A slow answer, as on a phone's network: the second click reaches the confirm
    # button while the first submission is still on its way. (Chromium folds two
    # clicks in one instant into one submission, so a bare dblclick sends one.)
    real_bet_place = trading.bet_place
    keys: list[str] = []

    def slow_bet_place(**kwargs: Any) -> Any:
        keys.append(kwargs["idempotency_key"])
        time.sleep(0.5)
        return real_bet_place(**kwargs)

    monkeypatch.setattr(trading, "bet_place", slow_bet_place)
    page = contexts().new_page()
    sign_in(page, browser_app, live_server, browser_app.person("ana"))
    open_market_page(page, live_server, market)
    quote_bet(page, "No", 100)
    box = page.locator("#confirm-form button").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2

    # The mouse itself, not Locator.click, which would wait for the first navigation.
    for _ in range(2):
        with page.expect_request(lambda r: r.method == "POST" and "/buy/confirm/" in r.url):
            page.mouse.click(x, y)

    expect(page.get_by_role("status")).to_contain_text("Bought")
    trades = from_database(lambda: list(Trade.objects.filter(market=market).values("points")))
    assert len(keys) == 2 and keys[0] == keys[1]  # both submissions reached the service
    assert trades == [{"points": 100}]
    page.get_by_role("link", name="Portfolio").click()
    expect(page.locator("#holdings tbody tr")).to_have_count(1)
    assert page.locator("#holdings td").nth(2).inner_text() != ""


def test_a_stale_quote_is_refused_and_quoted_again(
    browser_app: MembersApp, live_server: LiveServer, market: Market, contexts: Any
) -> None:
    ana_page = contexts().new_page()
    rival_page = contexts().new_page()
    sign_in(ana_page, browser_app, live_server, browser_app.person("ana"))
    sign_in(rival_page, browser_app, live_server, browser_app.person("rival"))
    open_market_page(ana_page, live_server, market)
    quoted = quote_bet(ana_page, "Yes", 100)
    # The rival buys the same answer first, through the web app too.
    open_market_page(rival_page, live_server, market)
    quote_bet(rival_page, "Yes", 300)
    rival_page.locator("#confirm-form button").click()
    expect(rival_page.get_by_role("status")).to_contain_text("Bought")

    ana_page.locator("#confirm-form button").click()

    expect(ana_page.locator("[data-error-code=price_moved]")).to_contain_text("The price moved")
    expect(ana_page.locator("h1")).to_have_text("Confirm your bet")
    requoted = Decimal(
        ana_page.locator("#confirm-form input[name=min_shares]").get_attribute("value")
    )
    assert requoted < quoted
    screenshot(ana_page, "webapp-requote")
    assert from_database(lambda: Trade.objects.filter(market=market).count()) == 1  # the rival's

    ana_page.locator("#confirm-form button").click()

    expect(ana_page.get_by_role("status")).to_contain_text("Bought")
    shares = from_database(
        lambda: sorted(Trade.objects.filter(market=market).values_list("shares", flat=True))
    )
    assert requoted in shares and len(shares) == 2


def test_the_pages_fit_a_phone_and_the_chart_has_labelled_axes(
    browser_app: MembersApp, live_server: LiveServer, market: Market, contexts: Any
) -> None:
    phone = contexts(viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True)
    page = phone.new_page()
    sign_in(page, browser_app, live_server, browser_app.person("ana"))
    open_market_page(page, live_server, market)
    quote_bet(page, "Yes", 50)
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.locator("#confirm-form button").click()
    expect(page.get_by_role("status")).to_contain_text("Bought")

    chart = page.locator("svg#price-chart")
    expect(chart).to_be_visible()
    texts = chart.locator("text").all_text_contents()
    assert {"0%", "25%", "50%", "75%", "100%", "Probability", "Time (UTC)"} <= set(texts)
    times = [t for t in texts if re.fullmatch(r"\d\d:\d\d:\d\d", t)]  # a span < 1 hour
    assert len(times) == 3, texts
    assert chart.locator("polyline").count() == 2
    screenshot(page, "webapp-market-phone")

    for link in ["Markets", "Portfolio", "History", "Leaderboard"]:
        page.get_by_role("link", name=link, exact=True).click()
        page.wait_for_load_state()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (link, width)

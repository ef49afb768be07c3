"""The moderators' console in headless Chromium (Debian's), signed in through the emulator.

The whole sign-in runs in the browser: our landing page, the emulator's consent
page (Discord's), the callback. Then each moderator reads every admin list and
tries the other guild's objects by URL. Never downloads a browser; without
/usr/bin/chromium the tests are skipped with the reason (a failure in CI).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import time_machine
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django import Settings
from pytest_django.live_server_helper import LiveServer

from markets.models import Market, MarketStatus
from tests.console.conftest import REDIRECT_PATH, Cast, World, make_world

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).with_name("screenshots")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]

if not CHROMIUM.exists() and os.environ.get("CI"):
    pytest.fail(f"{CHROMIUM} is missing: CI must install Debian's chromium", pytrace=False)

pytestmark = [
    pytest.mark.tenancy,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"needs Debian's chromium at {CHROMIUM}"),
    # The live server answers from another thread, so the data must be committed.
    pytest.mark.django_db(transaction=True),
]

LISTS = [
    "/admin/markets/market/",
    "/admin/betting/trade/",
    "/admin/betting/position/",
    "/admin/points/member/",
    "/admin/points/account/",
    "/admin/points/ledgertransaction/",
    "/admin/points/driptransfer/",
    "/admin/points/guild/",
    "/admin/core/auditlogentry/",
]


@pytest.fixture
def world(cast: Cast, live_server: LiveServer, settings: Settings) -> World:
    settings.DISCORD_OAUTH_REDIRECT_URL = f"{live_server.url}{REDIRECT_PATH}"
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = False
    return make_world(cast)


def _orm(read: Callable[[], object]) -> object:
    """An ORM read while Playwright's loop runs in this thread: in another thread."""
    from django.db import connection

    def run() -> object:
        try:
            return read()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


@pytest.fixture
def browser() -> Iterator[Browser]:
    # Made after the data: Playwright's sync API runs an event loop, and Django
    # refuses ORM calls under one.
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _signed_in(browser: Browser, cast: Cast, persona: object, live_server: LiveServer) -> Page:
    page = browser.new_context().new_page()
    cast.emulator.oauth.signed_in(persona)  # who is signed in to Discord in this browser
    page.goto(f"{live_server.url}/")
    page.get_by_role("button", name="Sign in with Discord").click()
    page.wait_for_url(f"{live_server.url}/")
    assert page.get_by_text(persona.username).count() >= 1  # type: ignore[attr-defined]
    return page


def _visible_text(page: Page, url: str) -> str:
    response = page.goto(url)
    assert response is not None and response.status == 200, (url, response and response.status)
    return page.locator("#content").inner_text()


def test_each_moderator_sees_only_their_guild_and_the_other_by_url_is_a_404(
    world: World, cast: Cast, live_server: LiveServer, browser: Browser
) -> None:
    for persona, mine, theirs in (
        (cast.mod_a, "alpha", "bravo"),
        (cast.mod_b, "bravo", "alpha"),
    ):
        page = _signed_in(browser, cast, persona, live_server)
        own_market = world.market_a if mine == "alpha" else world.market_b
        other_market = world.market_b if mine == "alpha" else world.market_a
        other_member = world.member_b if mine == "alpha" else world.member_a
        for path in LISTS:
            text = _visible_text(page, f"{live_server.url}{path}")
            assert mine in text.lower(), (persona, path)
            assert theirs not in text.lower(), (persona, path)
        # Search and filters, as typed and clicked.
        page.goto(f"{live_server.url}/admin/markets/market/")
        page.fill("#searchbar", theirs)
        page.press("#searchbar", "Enter")
        page.wait_for_load_state()
        assert "0 markets" in page.locator("#changelist").inner_text()
        filters = page.locator("#changelist-filter").inner_text().lower()
        assert theirs not in filters and f"{mine}-category" in filters

        other_transaction = _orm(
            lambda m=other_member: m.account.entries.order_by("id").first().transaction_id
        )
        for path in (
            f"/admin/markets/market/{other_market.pk}/change/",
            f"/admin/points/member/{other_member.pk}/change/",
            f"/admin/points/ledgertransaction/{other_transaction}/change/",
        ):
            response = page.goto(f"{live_server.url}{path}")
            assert response is not None and response.status == 404, (persona, path)

        # The own market's page has the chart and the holders.
        page.goto(f"{live_server.url}/admin/markets/market/{own_market.pk}/change/")
        assert page.locator("#market-price-chart svg polyline").count() == 2
        assert f"{mine}-trader" in page.locator("#market-holders").inner_text()
        SCREENSHOTS.mkdir(exist_ok=True)  # for a person to look at (not committed)
        page.screenshot(path=str(SCREENSHOTS / f"market-page-{mine}.png"), full_page=True)
        page.context.close()


def test_an_action_on_another_guilds_market_is_refused(
    world: World, cast: Cast, live_server: LiveServer, browser: Browser
) -> None:
    page = _signed_in(browser, cast, cast.mod_a, live_server)
    page.goto(f"{live_server.url}/admin/markets/market/")
    # Tamper with the form: the checkbox of our market now names the other guild's.
    checkbox = page.locator("input.action-select").first
    checkbox.evaluate(f"box => box.value = '{world.market_b.pk}'")
    checkbox.check()
    page.select_option("select[name=action]", "close_now")
    page.click("button[name=index]")
    page.wait_for_load_state()
    assert "Nothing was done" in page.locator("ul.messagelist").inner_text()
    status = _orm(lambda: Market.objects.get(pk=world.market_b.pk).status)
    assert status == MarketStatus.OPEN
    page.context.close()


def test_a_moderator_who_loses_the_role_loses_the_console_within_five_minutes(
    world: World, cast: Cast, live_server: LiveServer, browser: Browser
) -> None:
    page = _signed_in(browser, cast, cast.mod_a, live_server)
    assert page.goto(f"{live_server.url}/admin/markets/market/").status == 200  # type: ignore[union-attr]
    # The live server runs in this process: moving the clock moves it for the server too.
    with time_machine.travel(time.time(), tick=True) as traveller:
        cast.emulator.set_roles(cast.mod_a, [], guild=cast.a)
        try:
            traveller.shift(200)
            assert page.goto(f"{live_server.url}/admin/markets/market/").status == 200  # type: ignore[union-attr]
            traveller.shift(101)
            page.goto(f"{live_server.url}/admin/markets/market/")
            assert "/admin/login/" in page.url
            assert "not authorized" in page.locator("#content").inner_text()
        finally:
            cast.emulator.set_roles(cast.mod_a, [cast.a.moderator_role_id], guild=cast.a)
    page.context.close()

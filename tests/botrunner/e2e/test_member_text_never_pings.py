"""Member text (a question, an answer) never pings anyone and never changes the layout.

A member writes ``@everyone``, ``@here``, a role mention, a user mention and
markdown into a market's question and answers, through ``/market create``'s
form. Every message the bot then sends carrying that text — the create reply
and the public market message, a quote, the trade's result, the live edit,
``/portfolio``, ``/market list``, ``My position``, the result announcement —
is read from the request bodies the emulator recorded: each says
``allowed_mentions`` parse nothing, and none shows the text raw.

Leading ``#``, ``-#``, ``>`` and list markers are escaped by ``text.safe``'s
own change (another branch); those cases are marked ``xfail(strict=True)``
until it is merged, so they flip to passing loudly.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from betting.services import bet_place
from markets.models import Market
from markets.services import market_close
from tests.botrunner.e2e.bot_process import BotProcess
from tests.botrunner.e2e.conftest import Personas, member_row, open_market
from tests.botrunner.e2e.flows import EPHEMERAL, quote, show_market
from tests.discord_emulator import DiscordEmulator, GuildSetup, message_text

pytestmark = [
    pytest.mark.discord_e2e,
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True),
]

LIVE_EDIT_WITHIN = 20  # the consumer's debounce (5 s) and polls, with room on a busy box


def message_payloads(emulator: DiscordEmulator, since: int) -> list[tuple[str, dict[str, Any]]]:
    """Every message body the bot sent since request ``since``: (route, message fields)."""
    found = []
    with emulator.lock:
        requests = list(emulator.requests[since:])
    for request in requests:
        body = request.body if isinstance(request.body, dict) else None
        if body is None or request.method not in {"POST", "PATCH"}:
            continue
        route = f"{request.method} {request.path}"
        if request.path.endswith("/callback"):
            if int(body.get("type", 0)) in (4, 7) and body.get("data"):
                found.append((route, body["data"]))
        elif request.path.startswith("/webhooks/") or (
            request.path.startswith("/channels/") and "/messages" in request.path
        ):
            found.append((route, body))
    return found


def carrying(
    emulator: DiscordEmulator, since: int, marker: str
) -> list[tuple[str, dict[str, Any], str]]:
    """The message bodies whose text carries ``marker`` (a word of the member's text)."""
    return [
        (route, payload, message_text(payload))
        for route, payload in message_payloads(emulator, since)
        if marker in message_text(payload)
    ]


def assert_pings_nobody(sent: list[tuple[str, dict[str, Any], str]]) -> None:
    for route, payload, _text in sent:
        mentions = payload.get("allowed_mentions")
        assert mentions is not None, f"{route}: no allowed_mentions, Discord parses every mention"
        assert mentions.get("parse") == [], f"{route}: allowed_mentions {mentions}"
        assert not mentions.get("users") and not mentions.get("roles"), f"{route}: {mentions}"


@pytest.fixture
def hostile(discord_guild: GuildSetup, people: Personas) -> dict[str, str]:
    role, user = discord_guild.moderator_role_id, people.bob.user_id
    return {
        "question": (
            f"Zebra @everyone and @here, <@&{role}> and <@{user}> <@!{user}>: "
            "**bold** __under__ `tick` ~~gone~~ ||secret|| [site](https://evil.example) ?"
        ),
        "options": f"@here **Yak**\n<@&{role}> `Gnu`",
        "duration": "2d",
        "category": "@everyone",
    }


def raw_member_text(text: str, guild: GuildSetup, people: Personas) -> list[str]:
    """What of the member's text would ping or render as markdown if Discord read ``text``."""
    role, user = guild.moderator_role_id, people.bob.user_id
    raw = [
        "@everyone",
        "@here",
        f"<@&{role}>",
        f"<@{user}>",
        f"<@!{user}>",
        "**bold**",
        "__under__",
        "`tick`",
        "~~gone~~",
        "||secret||",
        "**Yak**",
        "`Gnu`",
    ]
    shown = [r for r in raw if r in text]
    if re.search(r"(?<!\\)\[site\]\(https://evil\.example\)", text):
        shown.append("[site](https://evil.example)")  # a masked link
    return shown


def test_a_hostile_market_pings_nobody_and_shows_its_text_escaped(
    emulator: DiscordEmulator,
    bot: BotProcess,
    people: Personas,
    discord_guild: GuildSetup,
    hostile: dict[str, str],
) -> None:
    start = len(emulator.requests)

    # Created through the form, as a member types it.
    asked = emulator.slash(people.alice, "market create")
    submitted = emulator.submit(people.alice, asked, hostile)
    emulator.wait_for_reply(submitted, contains="is open", timeout=45)
    market = Market.objects.get(question=hostile["question"])
    assert [o.label for o in market.outcomes.order_by("index")] == hostile["options"].split("\n")
    posted = emulator.wait_for(
        lambda: [
            emulator.messages[i]
            for i in submitted.followup_ids
            if not int(emulator.messages[i]["flags"]) & EPHEMERAL
        ],
        timeout=45,
        what="the public market message",
    )[0]
    emulator.wait_for(
        lambda: Market.objects.filter(pk=market.pk, discord_message_id=int(posted["id"])).exists(),
        what="the market to record its live message",
    )

    # A quote and its Confirm, on the answer with a mention in it.
    shown = quote(emulator, people.alice, market.pk, "1", 100)
    emulator.wait_for_reply(emulator.click(people.alice, shown, "Confirm"), contains="Bought")
    # Someone else trades: the live message is edited with the member text again.
    bet_place(
        member=member_row(discord_guild, people.bob),
        market_id=market.pk,
        outcome_index=1,
        amount=60,
        idempotency_key=f"e2e:bob:{market.pk}",
        bypass_rate_limit=True,
    )
    live = f"/channels/{posted['channel_id']}/messages/{posted['id']}$"
    emulator.wait_for(
        lambda: [
            r for r in emulator.requests_matching("PATCH", live, since=start) if r.status == 200
        ],
        timeout=LIVE_EDIT_WITHIN,
        what="the live edit of the market message",
    )
    emulator.wait_for_reply(emulator.slash(people.alice, "portfolio"), contains="Your portfolio")
    emulator.wait_for_reply(emulator.slash(people.alice, "market list"), contains="Zebra")
    emulator.wait_for_reply(
        emulator.click(people.alice, posted, "My position"), contains="Your position"
    )

    # Resolved by two moderators: the announcement names the question and the answer.
    market_close(market_id=market.pk, actor="system:e2e")
    for moderator in (people.mod_one, people.mod_two):
        emulator.wait_for_reply(
            emulator.slash(moderator, "resolve", market=str(market.pk), outcome="1"),
            contains="",
        )
    announcements = f"/channels/{discord_guild.announcement_channel_id}/messages$"
    emulator.wait_for(
        lambda: [
            r
            for r in emulator.requests_matching("POST", announcements, since=start)
            if "Zebra" in message_text(r.body or {})
        ],
        timeout=30,
        what="the result announcement",
    )

    sent = carrying(emulator, start, "Zebra") + carrying(emulator, start, "Yak")
    routes = {route.split("/")[1] for route, _, _ in sent}
    assert routes >= {"webhooks", "channels"}  # replies and their edits; posts and live edits
    assert len(sent) >= 9
    assert_pings_nobody(sent)
    for route, _payload, text in sent:
        assert raw_member_text(text, discord_guild, people) == [], f"{route}:\n{text}"


LEADING_MARKERS = {
    "heading": "# ",
    "subheading": "## ",
    "subtext": "-# ",
    "quote": "> ",
    "block-quote": ">>> ",
    "dash-list": "- ",
    "star-list": "* ",
    "numbered-list": "1. ",
}


@pytest.mark.parametrize("marker", list(LEADING_MARKERS.values()), ids=list(LEADING_MARKERS))
def test_a_question_starting_with_a_markdown_marker_is_shown_as_typed(
    emulator: DiscordEmulator,
    bot: BotProcess,
    people: Personas,
    discord_guild: GuildSetup,
    marker: str,
) -> None:
    question = f"{marker}Quokka count doubles?"
    market = open_market(discord_guild, people.alice, question, [f"{marker}Yes", "No"])
    start = len(emulator.requests)

    posted = show_market(emulator, people.alice, market.pk)
    emulator.wait_for_reply(
        emulator.click(people.alice, posted, "My position"), contains="Your position"
    )

    sent = carrying(emulator, start, "Quokka")
    assert len(sent) >= 2  # the market message and the position
    assert_pings_nobody(sent)
    line_start = re.compile(rf"^\s*{re.escape(marker.strip())}\s+(Quokka|Yes)", re.MULTILINE)
    for route, _payload, text in sent:
        assert not line_start.search(text), f"{route}: a line opens with {marker!r}:\n{text}"

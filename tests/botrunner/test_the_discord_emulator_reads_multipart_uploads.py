"""Uploads reach the emulator as Discord reads them: ``payload_json`` checked, files recorded.

nextcord sends a message with files (the market chart) as ``multipart/form-data``:
a ``payload_json`` part and one ``files[n]`` part per file. Driven here by
nextcord's own HTTP client and webhook adapter against the emulator, no bot:
a channel message, its edit, an interaction response and a follow-up each
carry a PNG that the stored message shows as an attachment (name, size, type),
and a ``payload_json`` that breaks the spec is refused like a JSON body.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from typing import Any

import aiohttp
import nextcord
import pytest
from nextcord.http import HTTPClient, Route
from nextcord.webhook.async_ import async_context, handle_message_parameters

from tests.botrunner.test_the_discord_emulator_enforces_discords_rules import PING, api, connect
from tests.discord_emulator import DiscordEmulator, GuildSetup

# The smallest PNG Discord would take: a signature is what it types a file by.
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 40


@pytest.fixture
def emulator(monkeypatch: pytest.MonkeyPatch) -> Iterator[DiscordEmulator]:
    with DiscordEmulator([GuildSetup()]) as running:
        monkeypatch.setattr(Route, "BASE", running.base_url)
        yield running


def chart(name: str = "market-7.png") -> nextcord.File:
    return nextcord.File(io.BytesIO(PNG), filename=name, description="price chart")


def with_client(emulator: DiscordEmulator, work: Any) -> Any:
    """Run ``work(http)`` with nextcord's HTTP client logged in to the emulator."""

    async def main() -> Any:
        http = HTTPClient(dispatch=lambda *args: None)
        await http.static_login(emulator.token)
        try:
            return await work(http)
        finally:
            await http.close()

    return asyncio.run(main())


def with_webhooks(work: Any) -> Any:
    """Run ``work(adapter, session)`` with nextcord's webhook adapter (interaction replies)."""

    async def main() -> Any:
        async with aiohttp.ClientSession() as session:
            return await work(async_context.get(), session)

    return asyncio.run(main())


def multipart_requests(emulator: DiscordEmulator, method: str, path: str) -> list[Any]:
    return [r for r in emulator.requests_matching(method, path) if r.multipart]


def test_a_channel_message_with_a_file_shows_the_attachment(emulator: DiscordEmulator) -> None:
    channel = emulator.guild.general_channel_id

    sent = with_client(
        emulator, lambda http: http.send_files(channel, files=[chart()], content="odds")
    )

    [request] = multipart_requests(emulator, "POST", f"/channels/{channel}/messages$")
    assert request.body["content"] == "odds"  # payload_json, read and validated
    assert [(f["field"], f["filename"], f["size"]) for f in request.files] == [
        ("files[0]", "market-7.png", len(PNG))
    ]
    stored = emulator.message(int(sent["id"]))
    [attachment] = stored["attachments"]
    assert (attachment["filename"], attachment["size"], attachment["content_type"]) == (
        "market-7.png",
        len(PNG),
        "image/png",  # typed by its bytes, as Discord does, not the part's octet-stream
    )
    assert attachment["description"] == "price chart"
    assert sent["attachments"] == stored["attachments"]
    assert emulator.violations == []


def test_an_edit_with_a_new_file_replaces_the_attachment(emulator: DiscordEmulator) -> None:
    channel = emulator.guild.general_channel_id

    async def post_then_edit(http: HTTPClient) -> tuple[dict[str, Any], dict[str, Any]]:
        first = await http.send_files(channel, files=[chart("old.png")], content="v1")
        edited = await http.edit_message(
            channel, first["id"], files=[chart("new.png")], attachments=[], content="v2"
        )
        return first, edited

    first, edited = with_client(emulator, post_then_edit)
    assert [a["filename"] for a in edited["attachments"]] == ["new.png"]

    [edit] = multipart_requests(emulator, "PATCH", f"/channels/{channel}/messages/{first['id']}$")
    assert [f["filename"] for f in edit.files] == ["new.png"]
    stored = emulator.message(int(first["id"]))
    assert stored["content"] == "v2"
    assert [a["filename"] for a in stored["attachments"]] == ["new.png"]
    assert emulator.violations == []


def test_an_interaction_response_and_a_follow_up_carry_their_files(
    emulator: DiscordEmulator,
) -> None:
    api(emulator, "PUT", f"/applications/{emulator.application_id}/commands", json=[PING])
    session, _ws, _events = connect(emulator)
    record = emulator.slash(emulator.guild.member("alice"), "ping")
    app = emulator.application_id

    async def respond(adapter: Any, session: aiohttp.ClientSession) -> Any:
        await adapter.create_interaction_response(
            record.id,
            record.token,
            session=session,
            type=4,
            data={"content": "here is the chart", "flags": 64},
            files=[chart("answer.png")],
        )
        params = handle_message_parameters(content="and another", file=chart("more.png"))
        return await adapter.execute_webhook(
            app,
            record.token,
            session=session,
            payload=params.payload,
            multipart=params.multipart,
            files=params.files,
            wait=True,
        )

    followup = with_webhooks(respond)
    emulator.run(session.close())

    answer = emulator.message(record.original_id)
    assert answer["content"] == "here is the chart" and answer["flags"] & 64
    assert [(a["filename"], a["content_type"]) for a in answer["attachments"]] == [
        ("answer.png", "image/png")
    ]
    assert [a["filename"] for a in emulator.message(int(followup["id"]))["attachments"]] == [
        "more.png"
    ]
    assert len(multipart_requests(emulator, "POST", "/callback$")) == 1
    assert emulator.violations == []


def test_a_payload_json_the_spec_rejects_is_refused(emulator: DiscordEmulator) -> None:
    channel = emulator.guild.general_channel_id
    form = aiohttp.FormData(quote_fields=False)
    form.add_field("payload_json", '{"content": 5}')
    form.add_field("files[0]", PNG, filename="x.png", content_type="application/octet-stream")

    async def post(form: aiohttp.FormData) -> tuple[int, dict[str, Any]]:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{emulator.base_url}/channels/{channel}/messages",
                data=form,
                headers={"Authorization": f"Bot {emulator.token}"},
            ) as response,
        ):
            return response.status, await response.json(content_type=None)

    status, answer = asyncio.run(post(form))

    assert (status, answer["code"]) == (400, 50035)
    assert "content" in str(answer["errors"])
    assert any("multipart body does not match the spec" in v for v in emulator.violations)
    assert not [m for m in emulator.messages.values() if m["channel_id"] == str(channel)]


@pytest.mark.parametrize(
    ("payload_json", "problem"),
    [
        (None, "without its payload_json part"),
        ("{not json", "payload_json is not valid JSON"),
    ],
)
def test_a_form_discord_cannot_read_is_refused(
    emulator: DiscordEmulator, payload_json: str | None, problem: str
) -> None:
    channel = emulator.guild.general_channel_id
    form = aiohttp.FormData(quote_fields=False)
    if payload_json is not None:
        form.add_field("payload_json", payload_json)
    form.add_field("files[0]", PNG, filename="x.png", content_type="application/octet-stream")

    async def post() -> int:
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"{emulator.base_url}/channels/{channel}/messages",
                data=form,
                headers={"Authorization": f"Bot {emulator.token}"},
            ) as response,
        ):
            return response.status

    assert asyncio.run(post()) == 400
    assert any(problem in v for v in emulator.violations)
    assert emulator.messages == {}

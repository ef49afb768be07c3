"""The emulator refuses what Discord refuses, so an e2e test can fail for the right reason.

Driven over loopback with plain HTTP and one gateway client, no bot: a second
initial response, a late one, a body the spec rejects, and an injected 429
are each answered as Discord answers them and recorded as violations.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests

from tests.discord_emulator import DiscordEmulator, DiscordSpec, GuildSetup, SpecMissing

PING = {"name": "ping", "description": "Is the bot there?", "type": 1, "options": []}


@pytest.fixture
def emulator() -> Iterator[DiscordEmulator]:
    with DiscordEmulator([GuildSetup()]) as running:
        yield running


def api(emulator: DiscordEmulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    headers = {"Authorization": f"Bot {emulator.token}"}
    return requests.request(method, emulator.base_url + path, headers=headers, timeout=10, **kwargs)


def connect(emulator: DiscordEmulator) -> Any:
    """IDENTIFY as a bot would; READY and GUILD_CREATE come back."""

    async def identify() -> tuple[aiohttp.ClientSession, Any, list[str]]:
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(emulator.gateway_url + "?encoding=json&v=10")
        await ws.receive_json()  # HELLO
        await ws.send_json({"op": 2, "d": {"token": emulator.token, "intents": 1}})
        events = [(await ws.receive_json())["t"], (await ws.receive_json())["t"]]
        return session, ws, events

    return emulator.run(identify())


def callback(emulator: DiscordEmulator, record: Any, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{emulator.base_url}/interactions/{record.id}/{record.token}/callback",
        json=body,
        timeout=10,
    )


@pytest.fixture
def ping(emulator: DiscordEmulator) -> Iterator[Any]:
    registered = api(
        emulator, "PUT", f"/applications/{emulator.application_id}/commands", json=[PING]
    )
    assert registered.status_code == 200, registered.text
    session, _ws, events = connect(emulator)
    assert events == ["READY", "GUILD_CREATE"]
    alice = emulator.guild.member("alice")
    yield emulator.slash(alice, "ping")
    emulator.run(session.close())


def test_a_second_initial_response_is_refused(emulator: DiscordEmulator, ping: Any) -> None:
    first = callback(emulator, ping, {"type": 4, "data": {"content": "pong"}})
    second = callback(emulator, ping, {"type": 4, "data": {"content": "pong again"}})
    assert first.status_code == 204
    assert (second.status_code, second.json()["code"]) == (400, 40060)
    assert any("answered twice" in v for v in emulator.violations)


def test_a_response_after_three_seconds_is_refused(emulator: DiscordEmulator, ping: Any) -> None:
    emulator.advance(3.5)
    late = callback(emulator, ping, {"type": 5, "data": {"flags": 64}})
    assert (late.status_code, late.json()["code"]) == (404, 10062)
    assert any("limit 3 s" in v for v in emulator.violations)


def test_an_ephemeral_reply_stays_ephemeral_when_filled_in(
    emulator: DiscordEmulator, ping: Any
) -> None:
    callback(emulator, ping, {"type": 5, "data": {"flags": 64}})
    filled = requests.post(
        f"{emulator.base_url}/webhooks/{emulator.application_id}/{ping.token}?wait=true",
        json={"content": "here you are"},
        timeout=10,
    ).json()
    assert filled["content"] == "here you are"
    assert filled["flags"] & 64 and filled["id"] == str(ping.original_id)


def test_a_follow_up_after_fifteen_minutes_is_refused(emulator: DiscordEmulator, ping: Any) -> None:
    callback(emulator, ping, {"type": 5})
    emulator.advance(15 * 60 + 1)
    late = requests.post(
        f"{emulator.base_url}/webhooks/{emulator.application_id}/{ping.token}",
        json={"content": "too late"},
        timeout=10,
    )
    assert (late.status_code, late.json()["code"]) == (401, 50027)


def test_a_body_the_spec_rejects_is_refused(emulator: DiscordEmulator) -> None:
    channel = emulator.guild.general_channel_id
    refused = api(emulator, "POST", f"/channels/{channel}/messages", json={"content": 5})
    accepted = api(emulator, "POST", f"/channels/{channel}/messages", json={"content": "hi"})
    assert (refused.status_code, refused.json()["code"]) == (400, 50035)
    assert "content" in str(refused.json()["errors"])
    assert accepted.status_code == 200
    assert accepted.headers["Content-Type"] == "application/json"  # exactly: nextcord needs it


def test_only_the_two_known_nextcord_differences_are_allowed() -> None:
    spec = DiscordSpec()
    path = "/applications/1/commands"
    as_nextcord_sends = [{**PING, "default_member_permissions": "32"}]
    assert spec.errors("PUT", path, as_nextcord_sends) == []
    assert spec.errors("PUT", path, [{**PING, "default_member_permissions": "Manage"}])
    message = {"content": "chart", "attachments": [{"id": 0, "filename": "market-1.png"}]}
    assert spec.errors("PATCH", "/channels/1/messages/2", message) == []
    assert spec.errors("PATCH", "/channels/1/messages/2", {"attachments": [{"id": 1.5}]})


def test_an_injected_429_carries_what_nextcord_reads(emulator: DiscordEmulator) -> None:
    channel = emulator.guild.general_channel_id
    emulator.fail_next("POST", f"/channels/{channel}/messages$", 429, retry_after=2.5)
    limited = api(emulator, "POST", f"/channels/{channel}/messages", json={"content": "hi"})
    again = api(emulator, "POST", f"/channels/{channel}/messages", json={"content": "hi"})
    assert limited.status_code == 429 and again.status_code == 200
    assert limited.json()["retry_after"] == 2.5
    assert limited.headers["Retry-After"] == "3"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert limited.headers["Via"]  # without it nextcord takes a 429 for a Cloudflare ban


def test_a_missing_spec_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(SpecMissing, match=r"discord-api-spec/openapi\.json"):
        DiscordSpec(tmp_path / "discord-api-spec" / "openapi.json")


def test_a_dm_to_a_user_with_closed_dms_is_refused_as_discord_refuses_it(
    emulator: DiscordEmulator,
) -> None:
    alice = emulator.guild.member("alice")
    carol = emulator.guild.member("carol")
    emulator.close_dms(carol)
    channels = {}
    for persona in (alice, carol):
        opened = api(
            emulator, "POST", "/users/@me/channels", json={"recipient_id": str(persona.user_id)}
        )
        assert opened.status_code == 200, opened.text
        assert opened.json()["type"] == 1
        assert opened.json()["recipients"][0]["id"] == str(persona.user_id)
        channels[persona.username] = opened.json()["id"]
    again = api(emulator, "POST", "/users/@me/channels", json={"recipient_id": str(alice.user_id)})
    assert again.json()["id"] == channels["alice"]  # one DM channel per user

    sent = api(emulator, "POST", f"/channels/{channels['alice']}/messages", json={"content": "hi"})
    refused = api(
        emulator, "POST", f"/channels/{channels['carol']}/messages", json={"content": "hi"}
    )
    assert sent.status_code == 200
    assert (refused.status_code, refused.json()) == (
        403,
        {"code": 50007, "message": "Cannot send messages to this user"},
    )
    assert [m["content"] for m in emulator.direct_messages(alice)] == ["hi"]
    assert emulator.direct_messages(carol) == []
    assert not emulator.violations


def test_a_dm_recipient_must_be_a_snowflake_string(emulator: DiscordEmulator) -> None:
    alice = emulator.guild.member("alice")
    opened = api(emulator, "POST", "/users/@me/channels", json={"recipient_id": alice.user_id})
    assert (opened.status_code, opened.json()["code"]) == (400, 50035)
    assert any("/users/@me/channels" in v for v in emulator.violations)


def test_a_message_starts_one_thread_whose_body_the_spec_checks(emulator: DiscordEmulator) -> None:
    channel = emulator.guild.general_channel_id
    posted = api(emulator, "POST", f"/channels/{channel}/messages", json={"content": "market"})
    message_id = posted.json()["id"]
    path = f"/channels/{channel}/messages/{message_id}/threads"

    too_long = api(emulator, "POST", path, json={"name": "x" * 101, "auto_archive_duration": 60})
    odd_archive = api(emulator, "POST", path, json={"name": "ok", "auto_archive_duration": 61})
    assert (too_long.status_code, too_long.json()["code"]) == (400, 50035)
    assert (odd_archive.status_code, odd_archive.json()["code"]) == (400, 50035)
    emulator.violations.clear()  # the two refusals above were the point

    started = api(
        emulator, "POST", path, json={"name": "#1 Will it rain?", "auto_archive_duration": 10080}
    )
    assert started.status_code == 201
    thread = started.json()
    assert (thread["id"], thread["parent_id"], thread["type"]) == (message_id, str(channel), 11)
    again = api(emulator, "POST", path, json={"name": "again", "auto_archive_duration": 60})
    assert (again.status_code, again.json()["code"]) == (400, 160004)

    # A thread is a channel: the bot posts in it and a test lists what is there.
    inside = api(emulator, "POST", f"/channels/{thread['id']}/messages", json={"content": "hi"})
    assert inside.status_code == 200
    assert [m["content"] for m in emulator.channel_messages(int(thread["id"]))] == ["hi"]
    nested = api(
        emulator,
        "POST",
        f"/channels/{thread['id']}/messages/{inside.json()['id']}/threads",
        json={"name": "nested", "auto_archive_duration": 60},
    )
    assert (nested.status_code, nested.json()["code"]) == (400, 50024)

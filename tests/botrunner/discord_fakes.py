"""Channel and message doubles for the outbox consumer (Discord's REST side)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import nextcord

_message_ids = itertools.count(795_000_000_000_000_001)


@dataclass
class HTTPResponse:
    """What nextcord's HTTPException reads from aiohttp's response."""

    status: int
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def rate_limited(retry_after: float) -> nextcord.HTTPException:
    response = HTTPResponse(429, "Too Many Requests", {"Retry-After": str(retry_after)})
    return nextcord.HTTPException(
        response, {"message": "You are being rate limited.", "retry_after": retry_after}
    )


def not_found() -> nextcord.NotFound:
    return nextcord.NotFound(HTTPResponse(404, "Not Found"), {"message": "Unknown Message"})


@dataclass
class Sent:
    id: int


class FakeDiscord:
    """``get_partial_messageable(id)`` like the bot; records sends and edits, fails on request."""

    def __init__(self) -> None:
        self.edits: list[tuple[int, int, dict[str, Any]]] = []
        self.sends: list[tuple[int, dict[str, Any]]] = []
        self.edit_failures: list[Exception] = []
        self.send_failures: list[Exception] = []
        self.attempts = 0

    def get_partial_messageable(
        self, channel_id: int, *, type: nextcord.ChannelType | None = None
    ) -> FakeChannel:
        return FakeChannel(self, channel_id, type)


# nextcord 2.6's PartialMessage accepts only these channel types (message.py).
TEXT_LIKE = {
    nextcord.ChannelType.text,
    nextcord.ChannelType.news,
    nextcord.ChannelType.private,
    nextcord.ChannelType.news_thread,
    nextcord.ChannelType.public_thread,
    nextcord.ChannelType.private_thread,
}


class FakeChannel:
    def __init__(
        self, discord: FakeDiscord, channel_id: int, type: nextcord.ChannelType | None = None
    ) -> None:
        self.discord = discord
        self.id = channel_id
        self.type = type

    async def send(self, **kwargs: Any) -> Sent:
        self.discord.attempts += 1
        if self.discord.send_failures:
            raise self.discord.send_failures.pop(0)
        self.discord.sends.append((self.id, kwargs))
        return Sent(next(_message_ids))

    def get_partial_message(self, message_id: int) -> FakePartialMessage:
        # As nextcord does: a partial channel without a text-like type has no messages.
        if self.type not in TEXT_LIKE:
            raise TypeError(f"Expected TextChannel, DMChannel or Thread not {self.type!r}")
        return FakePartialMessage(self, message_id)


class FakePartialMessage:
    def __init__(self, channel: FakeChannel, message_id: int) -> None:
        self.channel = channel
        self.id = message_id

    async def edit(self, **kwargs: Any) -> None:
        discord = self.channel.discord
        discord.attempts += 1
        if discord.edit_failures:
            raise discord.edit_failures.pop(0)
        discord.edits.append((self.channel.id, self.id, kwargs))


class FakeClock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # Time passes without waiting: the test stays fast and sees the wait.
        self.slept.append(seconds)
        self.now += seconds

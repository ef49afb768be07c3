"""Interaction doubles: what nextcord hands a handler, recording what the handler answers.

Handlers are driven with these for speed and for fine-grained checks. They
stand in for Discord only: the handlers, the services and the database are
real. What nextcord itself does with a handler's answer is checked by the
end-to-end tests in ``tests/botrunner/e2e``, where the real ``runbot`` process
talks to the local Discord emulator (``tests/discord_emulator``). Every call
is appended to one shared ``log`` so tests can check the order
(acknowledged before any database work).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import nextcord
from nextcord import InteractionType

_ids = itertools.count(790_000_000_000_000_000)


def next_id() -> int:
    return next(_ids)


@dataclass
class FakePermissions:
    manage_guild: bool = False
    administrator: bool = False
    mention_everyone: bool = False


@dataclass
class FakeRole:
    id: int
    mentionable: bool = True

    @property
    def mention(self) -> str:
        return f"<@&{self.id}>"


@dataclass
class FakeUser:
    id: int
    display_name: str
    guild_permissions: FakePermissions = field(default_factory=FakePermissions)
    roles: list[FakeRole] = field(default_factory=list)
    bot: bool = False


@dataclass
class FakeGuild:
    """nextcord's cached guild: its roles and the bot's own member (``me``)."""

    id: int
    name: str = "Test guild"
    roles: list[FakeRole] = field(default_factory=list)
    me: FakeUser | None = None

    def get_role(self, role_id: int) -> FakeRole | None:
        return next((role for role in self.roles if role.id == role_id), None)


@dataclass
class FakeMessage:
    id: int
    channel_id: int | None = None
    components: list[Any] = field(default_factory=list)


@dataclass
class Reply:
    """One thing the handler showed: a response, a follow-up or an edit."""

    how: str  # send_message | followup | edit_original | edit_message | modal | autocomplete
    content: str | None
    kwargs: dict[str, Any]

    @property
    def ephemeral(self) -> bool:
        return bool(self.kwargs.get("ephemeral"))

    @property
    def embed(self) -> nextcord.Embed | None:
        return self.kwargs.get("embed")

    @property
    def view(self) -> nextcord.ui.View | None:
        return self.kwargs.get("view")

    @property
    def text(self) -> str:
        """Everything a member reads in it: content, embed title, description and fields."""
        parts = [self.content or ""]
        embed = self.embed
        if embed is not None:
            parts += [embed.title or "", embed.description or ""]
            parts += [f"{f.name}: {f.value}" for f in embed.fields]
            parts.append(embed.footer.text or "")
        return "\n".join(p for p in parts if p)

    def custom_ids(self) -> list[str]:
        view = self.view
        return [item.custom_id for item in view.children] if view is not None else []


class FakeResponse:
    def __init__(self, owner: FakeInteraction) -> None:
        self.owner = owner
        self._done = False
        self.deferred: dict[str, Any] | None = None

    def is_done(self) -> bool:
        return self._done

    def _respond(self, what: str) -> None:
        if self._done:
            raise AssertionError(f"{what}: the interaction was already answered")
        self._done = True
        self.owner.log.append(what)

    async def defer(self, *, ephemeral: bool = False, with_message: bool = False) -> None:
        self._respond("defer")
        self.deferred = {"ephemeral": ephemeral, "with_message": with_message}

    async def send_message(self, content: Any = None, **kwargs: Any) -> None:
        self._respond("send_message")
        self.owner.replies.append(Reply("send_message", content, kwargs))

    async def send_modal(self, modal: nextcord.ui.Modal) -> None:
        self._respond("send_modal")
        self.owner.modal = modal

    async def edit_message(self, content: Any = None, **kwargs: Any) -> None:
        self._respond("edit_message")
        self.owner.replies.append(Reply("edit_message", content, kwargs))

    async def send_autocomplete(self, choices: Any) -> None:
        self._respond("send_autocomplete")
        self.owner.choices = choices


class FakeFollowup:
    def __init__(self, owner: FakeInteraction) -> None:
        self.owner = owner

    async def send(self, content: Any = None, **kwargs: Any) -> FakeMessage:
        assert self.owner.response.is_done(), "a follow-up before the interaction was answered"
        self.owner.log.append("followup")
        self.owner.replies.append(Reply("followup", content, kwargs))
        return FakeMessage(id=next_id(), channel_id=self.owner.channel_id)


class FakeInteraction:
    def __init__(
        self,
        *,
        user: FakeUser,
        guild: FakeGuild | None,
        type: InteractionType = InteractionType.application_command,
        data: dict[str, Any] | None = None,
        channel_id: int | None = 880_000_000_000_000_001,
        message: FakeMessage | None = None,
        id: int | None = None,
        log: list[str] | None = None,
    ) -> None:
        self.id = id if id is not None else next_id()
        self.user = user
        self.guild = guild
        self.guild_id = guild.id if guild else None
        self.channel_id = channel_id
        self.type = type
        self.data = data or {}
        self.message = message
        self.log: list[str] = log if log is not None else []
        self.response = FakeResponse(self)
        self.followup = FakeFollowup(self)
        self.replies: list[Reply] = []
        self.modal: nextcord.ui.Modal | None = None
        self.choices: Any = None

    async def edit_original_message(self, content: Any = None, **kwargs: Any) -> FakeMessage:
        assert self.response.is_done(), "edited before the interaction was answered"
        self.log.append("edit_original")
        self.replies.append(Reply("edit_original", content, kwargs))
        return FakeMessage(id=next_id(), channel_id=self.channel_id)

    async def delete_original_message(self, *, delay: float | None = None) -> None:
        self.log.append("delete_original")

    # -- reading what happened ---------------------------------------------------
    @property
    def last(self) -> Reply:
        assert self.replies, f"the handler showed nothing (log: {self.log})"
        return self.replies[-1]

    def reply_with_view(self) -> Reply:
        return next(r for r in reversed(self.replies) if r.view is not None)


def component(
    user: FakeUser, guild: FakeGuild, custom_id: str, *, values: list[str] | None = None, **kw: Any
) -> FakeInteraction:
    """A click on a button, or a choice in a select, carrying ``custom_id``."""
    data: dict[str, Any] = {"custom_id": custom_id, "component_type": 3 if values else 2}
    if values is not None:
        data["values"] = values
    return FakeInteraction(user=user, guild=guild, type=InteractionType.component, data=data, **kw)


def modal_submit(
    user: FakeUser, guild: FakeGuild, custom_id: str, values: dict[str, str], **kw: Any
) -> FakeInteraction:
    rows = [
        {"type": 1, "components": [{"type": 4, "custom_id": key, "value": value}]}
        for key, value in values.items()
    ]
    return FakeInteraction(
        user=user,
        guild=guild,
        type=InteractionType.modal_submit,
        data={"custom_id": custom_id, "components": rows},
        **kw,
    )

"""Answering one interaction: acknowledge first, then work, then reply; errors mapped once.

Discord drops an interaction that is not acknowledged within 3 seconds, so every
handler runs inside ``run``: it defers *before* any database or chart work
(unless the first response must be a modal), binds the interaction id to the
logs, maps errors to ephemeral replies, records metrics, and is one trace when
tracing is on (``predictmarket.tracing``): a span named after the command,
whose children are the database and cache calls the handler makes on the
bot's worker threads (``sync_to_async`` carries the span's context there). Handlers are
written as ``async def handler(inv: Invocation, **options)`` and wrapped with
``@handler("name", ack=...)``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any, Concatenate, ParamSpec

import nextcord
from opentelemetry import context as otel_context
from opentelemetry import trace

from botrunner.ackfirst import ACKS
from botrunner.calls import call
from botrunner.context import Actor, actor_resolve, has_manage_guild, require_guild, role_ids
from botrunner.metrics import record_command
from botrunner.replies import domain_error_text, unexpected_error_text
from botrunner.text import NO_MENTIONS
from predictmarket.errors import DomainError, out_of_range_error, outage_error
from predictmarket.logging import bind_request_id

logger = logging.getLogger(__name__)
P = ParamSpec("P")


class Ack(Enum):
    EPHEMERAL = "ephemeral"  # "thinking…" only the member sees; replies are private
    UPDATE = "update"  # components: acknowledge and later edit the message in place
    NONE = "none"  # the handler's first response is itself the acknowledgement (a modal)


class Invocation:
    def __init__(self, interaction: Any, command: str) -> None:
        self.interaction = interaction
        self.command = command
        self.started = time.perf_counter()
        self.acknowledged_after: float | None = None
        self._actor: Actor | None = None

    @property
    def idempotency_key(self) -> str:
        """The interaction id: a retried or double-clicked interaction has the same one."""
        return f"discord:{self.interaction.id}"

    # -- acknowledging -------------------------------------------------------
    async def acknowledge(self, ack: Ack) -> None:
        response = self.interaction.response
        if ack is Ack.NONE or response.is_done():
            return
        if ack is Ack.UPDATE:
            await response.defer()
        else:
            # with_message: a component or modal submit shows "thinking" too,
            # instead of silently updating the message it came from.
            await response.defer(ephemeral=True, with_message=True)
        self.acknowledged_after = time.perf_counter() - self.started
        ACKS.acknowledged(self.interaction.id)

    async def send_modal(self, modal: nextcord.ui.Modal) -> None:
        await self.interaction.response.send_modal(modal)
        self.acknowledged_after = time.perf_counter() - self.started
        ACKS.acknowledged(self.interaction.id)

    # -- who is acting ---------------------------------------------------------
    async def actor(self, *, rate_limited: bool = True) -> Actor:
        if self._actor is None:
            interaction = self.interaction
            guild_id = require_guild(interaction)
            guild = getattr(interaction, "guild", None)
            user = interaction.user
            self._actor = await call(
                actor_resolve,
                guild_id=guild_id,
                guild_name=getattr(guild, "name", "") or "",
                user_id=int(user.id),
                display_name=getattr(user, "display_name", "") or "",
                roles=role_ids(user),
                manage_guild=has_manage_guild(interaction),
                rate_limited=rate_limited,
            )
        return self._actor

    # -- replying --------------------------------------------------------------
    async def reply(
        self,
        content: str | None = None,
        *,
        embed: nextcord.Embed | None = None,
        file: nextcord.File | None = None,
        view: nextcord.ui.View | None = None,
        ephemeral: bool = True,
    ) -> Any:
        """Answer, or follow up if already acknowledged. Returns the message when followed up."""
        kwargs: dict[str, Any] = {"allowed_mentions": NO_MENTIONS, "ephemeral": ephemeral}
        for key, value in (("embed", embed), ("file", file), ("view", view)):
            if value is not None:
                kwargs[key] = value
        response = self.interaction.response
        if not response.is_done():
            await response.send_message(content, **kwargs)
            self.acknowledged_after = time.perf_counter() - self.started
            ACKS.acknowledged(self.interaction.id)
            return None
        return await self.interaction.followup.send(content, wait=True, **kwargs)

    async def edit(self, **fields: Any) -> Any:
        """Edit the acknowledged message (the "thinking" reply, or a component's message)."""
        fields.setdefault("allowed_mentions", NO_MENTIONS)
        return await self.interaction.edit_original_message(**fields)

    async def fail(self, text: str) -> None:
        """An error reply, always ephemeral; a reply that cannot be sent is only logged."""
        try:
            await self.reply(text, ephemeral=True)
        except nextcord.HTTPException:
            logger.warning("could not deliver an error reply for %s", self.command, exc_info=True)


def _span_name(interaction: Any, command: str) -> str:
    """``discord.interaction /bet`` for a slash command; a button or form by its handler's name."""
    slash = getattr(interaction, "type", None) is nextcord.InteractionType.application_command
    return f"discord.interaction {'/' if slash else ''}{command}"


async def run(
    interaction: Any, command: str, work: Callable[[Invocation], Awaitable[None]], ack: Ack
) -> Invocation:
    invocation = Invocation(interaction, command)
    outcome = "ok"
    # Looked up each time (not once at import): the provider is set when runbot starts.
    tracer = trace.get_tracer("botrunner.invocation")
    attributes = {"discord.command": command, "discord.interaction.id": int(interaction.id)}
    if (guild_id := getattr(interaction, "guild_id", None)) is not None:
        attributes["discord.guild.id"] = int(guild_id)
    with (
        bind_request_id(f"discord:{interaction.id}"),
        # An interaction starts its own trace: Discord sends no trace context.
        tracer.start_as_current_span(
            _span_name(interaction, command),
            context=otel_context.Context(),
            kind=trace.SpanKind.SERVER,
            attributes=attributes,
            record_exception=False,  # every exception is handled below
            set_status_on_exception=False,
        ) as span,
    ):
        try:
            await invocation.acknowledge(ack)
            if ack is not Ack.NONE:
                # Work takes the GIL on the bot's threads: the others' acks go first.
                await ACKS.wait_for_acks()
            await work(invocation)
        except DomainError as exc:
            outcome = exc.code
            await invocation.fail(domain_error_text(exc))
        except Exception as exc:  # every failure gets an error id (or a message) and a reply
            if (outage := outage_error(exc)) is not None:
                # Our database or Redis dropped out: the member may simply try again.
                logger.warning("service outage in %s: %r", command, exc)
                outcome = outage.code
                await invocation.fail(domain_error_text(outage))
            elif (out_of_range := out_of_range_error(exc)) is not None:
                # A missed bound in a service: logged, and the member is told it is the input.
                logger.warning("number out of range in %s: %r", command, exc, exc_info=exc)
                outcome = out_of_range.code
                await invocation.fail(domain_error_text(out_of_range))
            else:
                outcome = "unexpected"
                span.record_exception(exc)
                span.set_status(trace.StatusCode.ERROR, type(exc).__name__)
                _, text = unexpected_error_text(exc, command=command)
                await invocation.fail(text)
        finally:
            ACKS.acknowledged(interaction.id)  # answered or failed: it holds no one up
            span.set_attribute("discord.interaction.outcome", outcome)
            record_command(command, outcome, time.perf_counter() - invocation.started)
    return invocation


def handler(
    command: str, *, ack: Ack = Ack.EPHEMERAL
) -> Callable[
    [Callable[Concatenate[Invocation, P], Awaitable[None]]],
    Callable[Concatenate[Any, P], Awaitable[Invocation]],
]:
    """Wrap ``async def f(inv, **options)`` into ``async def f(interaction, **options)``."""

    def decorate(
        fn: Callable[Concatenate[Invocation, P], Awaitable[None]],
    ) -> Callable[Concatenate[Any, P], Awaitable[Invocation]]:
        @functools.wraps(fn)
        async def wrapper(interaction: Any, *args: P.args, **kwargs: P.kwargs) -> Invocation:
            return await run(interaction, command, lambda inv: fn(inv, *args, **kwargs), ack)

        return wrapper

    return decorate

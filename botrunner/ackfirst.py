"""Acknowledgements before work: no interaction waits for its ack behind another's work.

Discord drops an interaction not acknowledged within 3 seconds, and members see
"thinking…" only once it is. When many arrive at once (a popular market, a
storm of ``/bet``), each handler acknowledges first and then starts its
database work on the bot's threads — which take the GIL from the event loop
that still has the later interactions to acknowledge. ``bench/bot.py`` measured
the 200th acknowledgement of a storm waiting behind the others' work.

So the gateway's parser counts each interaction that will be acknowledged as
it arrives (``received``), the handler marks it acknowledged, and work after an
acknowledgement waits (``wait_for_acks``, at most ``MAX_WAIT`` seconds) until
every interaction received so far has been acknowledged and none has arrived
for ``QUIET`` seconds (a burst's frames are parsed one by one). An interaction that
is never acknowledged here (autocomplete, a component that is not ours) is
forgotten after ``FORGET_AFTER`` seconds, so it cannot hold the others up.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

# Application commands, components and modal submits; not PING (1) or autocomplete (4).
ACKNOWLEDGED_TYPES = (2, 3, 5)
MAX_WAIT = 0.5
FORGET_AFTER = 1.0
# Frames of a burst are read one by one: work also waits for a pause this long in
# arrivals, so the first handlers do not start their work between two frames.
QUIET = 0.01


class AckQueue:
    def __init__(self) -> None:
        self._waiting: dict[int, float] = {}
        self._clear: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_arrival = 0.0

    def _event(self) -> asyncio.Event:
        # An Event belongs to the loop that first waits on it: a new loop (a restarted
        # client, a test's asyncio.run) gets a new one, set as the count says.
        try:
            loop: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if self._clear is None or (loop is not None and loop is not self._loop):
            self._clear = asyncio.Event()
            self._loop = loop
            if not self._waiting:
                self._clear.set()
        return self._clear

    def received(self, data: dict[str, Any]) -> None:
        """Called by the gateway's parser, on the event loop, as the interaction arrives."""
        if data.get("type") in ACKNOWLEDGED_TYPES and data.get("id"):
            self._last_arrival = time.monotonic()
            self._waiting[int(data["id"])] = self._last_arrival
            self._event().clear()

    def acknowledged(self, interaction_id: int) -> None:
        self._waiting.pop(int(interaction_id), None)
        if not self._waiting:
            self._event().set()

    def pending(self) -> int:
        return len(self._waiting)

    def _forget_stale(self) -> None:
        oldest_kept = time.monotonic() - FORGET_AFTER
        for interaction_id, at in list(self._waiting.items()):
            if at < oldest_kept:
                del self._waiting[interaction_id]
        if not self._waiting:
            self._event().set()

    async def wait_for_acks(self) -> None:
        deadline = time.monotonic() + MAX_WAIT
        while True:
            self._forget_stale()
            now = time.monotonic()
            if now >= deadline:
                return
            if self._waiting:
                try:
                    await asyncio.wait_for(self._event().wait(), deadline - now)
                except TimeoutError:
                    return
                continue
            quiet_for = now - self._last_arrival
            if quiet_for >= QUIET:
                return
            await asyncio.sleep(min(QUIET - quiet_for, deadline - now))


ACKS = AckQueue()


def count_interactions_as_they_arrive(connection: Any) -> None:
    """Wrap nextcord's INTERACTION_CREATE parser (``ConnectionState.parsers``)."""
    parse = connection.parsers["INTERACTION_CREATE"]

    def parse_interaction_create(data: dict[str, Any]) -> None:
        ACKS.received(data)
        parse(data)

    connection.parsers["INTERACTION_CREATE"] = parse_interaction_create

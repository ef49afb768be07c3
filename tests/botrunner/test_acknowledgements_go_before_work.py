"""Work after an acknowledgement waits until every interaction received has been acknowledged.

In a storm, a handler's database work (on the bot's threads) takes the GIL from
the event loop that still has later interactions to acknowledge; so the
gateway counts interactions as they arrive and work waits for their acks
(``botrunner.ackfirst``), at most ``MAX_WAIT``.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from botrunner import ackfirst
from botrunner.ackfirst import AckQueue, count_interactions_as_they_arrive


def interaction(interaction_id: int, kind: int = 2) -> dict[str, object]:
    return {"id": str(interaction_id), "type": kind}


def test_work_waits_for_the_acks_of_interactions_already_received() -> None:
    async def storm() -> list[str]:
        acks, order = AckQueue(), []
        for i in (1, 2, 3):
            acks.received(interaction(i))

        async def handler(i: int, delay: float) -> None:
            await asyncio.sleep(delay)
            acks.acknowledged(i)
            order.append(f"ack {i}")
            await acks.wait_for_acks()
            order.append(f"work {i}")

        await asyncio.gather(handler(1, 0), handler(2, 0.02), handler(3, 0.04))
        return order

    assert asyncio.run(storm()) == ["ack 1", "ack 2", "ack 3", "work 3", "work 1", "work 2"]


def test_autocomplete_and_pings_are_not_waited_for() -> None:
    async def check() -> int:
        acks = AckQueue()
        acks.received(interaction(1, kind=4))  # autocomplete: answered by its own callback
        acks.received(interaction(2, kind=1))  # PING
        started = time.monotonic()
        await acks.wait_for_acks()
        assert time.monotonic() - started < 0.05
        return acks.pending()

    assert asyncio.run(check()) == 0


def test_an_interaction_never_acknowledged_holds_work_up_at_most_max_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ackfirst, "MAX_WAIT", 0.1)
    monkeypatch.setattr(ackfirst, "FORGET_AFTER", 0.05)

    async def check() -> tuple[float, int]:
        acks = AckQueue()
        acks.received(interaction(7))  # a component that is not ours: never acknowledged
        started = time.monotonic()
        await acks.wait_for_acks()
        waited = time.monotonic() - started
        await asyncio.sleep(0.06)
        await acks.wait_for_acks()  # forgotten now: no wait at all
        return waited, acks.pending()

    waited, pending = asyncio.run(check())
    assert 0.08 <= waited < 0.5
    assert pending == 0


def test_the_gateway_parser_counts_each_interaction_before_nextcord_parses_it() -> None:
    seen: list[tuple[int, int]] = []

    class State:
        parsers = {"INTERACTION_CREATE": lambda data: seen.append((int(data["id"]), pending()))}

    def pending() -> int:
        return ackfirst.ACKS.pending()

    state = State()
    count_interactions_as_they_arrive(state)
    before = pending()
    state.parsers["INTERACTION_CREATE"](interaction(42))
    assert seen == [(42, before + 1)]
    ackfirst.ACKS.acknowledged(42)
    assert pending() == before


def test_work_also_waits_for_a_pause_in_arrivals(monkeypatch: pytest.MonkeyPatch) -> None:
    """Frames of a burst are parsed one by one: acked-so-far is not the end of the burst."""
    monkeypatch.setattr(ackfirst, "QUIET", 0.05)

    async def burst() -> float:
        acks = AckQueue()
        acks.received(interaction(1))
        acks.acknowledged(1)  # nothing pending, but the burst may not be over
        started = time.monotonic()
        await acks.wait_for_acks()
        return time.monotonic() - started

    assert 0.04 <= asyncio.run(burst()) < 0.4


def test_a_component_that_is_not_ours_holds_no_one_up() -> None:
    from botrunner.dispatch import dispatch_interaction

    class Foreign:
        id = 4242
        type = 3
        data = {"custom_id": "another-bot:vote"}

    before = ackfirst.ACKS.pending()
    ackfirst.ACKS.received({"id": "4242", "type": 3})
    assert ackfirst.ACKS.pending() == before + 1
    asyncio.run(dispatch_interaction(Foreign()))
    assert ackfirst.ACKS.pending() == before


def test_one_queue_serves_one_event_loop_after_another() -> None:
    """A restarted client (or the next test's loop) does not inherit the last loop's Event."""
    acks = AckQueue()

    async def round_trip(i: int) -> None:
        acks.received(interaction(i))
        waiter = asyncio.create_task(acks.wait_for_acks())
        await asyncio.sleep(0.02)  # the waiter is parked on the Event by now
        acks.acknowledged(i)
        await waiter

    asyncio.run(round_trip(1))
    asyncio.run(round_trip(2))  # RuntimeError (bound to a different event loop) before
    assert acks.pending() == 0

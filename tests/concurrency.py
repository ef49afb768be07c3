"""Run service calls on real threads, each with its own database connection."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.db import connection


@dataclass(frozen=True)
class Outcome:
    value: Any = None
    error: BaseException | None = None


def run_concurrently(calls: Sequence[Callable[[], Any]], *, workers: int) -> list[Outcome]:
    """Run ``calls`` on ``workers`` threads released together; outcomes in call order.

    Every call closes its thread's connection afterwards (with the pool this
    hands it back), so no connection outlives the test or exhausts the pool.
    """
    start = threading.Event()

    def run(call: Callable[[], Any]) -> Outcome:
        try:
            start.wait(timeout=30)
            return Outcome(value=call())
        except Exception as error:  # noqa: BLE001 - the test inspects every outcome
            return Outcome(error=error)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(run, call) for call in calls]
        start.set()
        return [future.result(timeout=120) for future in futures]


class Background:
    """A call running on its own thread and database connection (see ``start_until_blocked``)."""

    def __init__(self, call: Callable[[], Any]) -> None:
        self._call = call
        self._outcome: Outcome | None = None
        self._pid: int | None = None
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        try:
            connection.ensure_connection()
            self._pid = connection.connection.info.backend_pid
            self._started.set()
            self._outcome = Outcome(value=self._call())
        except Exception as error:  # noqa: BLE001 - the test inspects the outcome
            self._outcome = Outcome(error=error)
        finally:
            self._started.set()
            connection.close()

    def _waiting_for_a_lock(self) -> bool:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [self._pid]
            )
            row = cursor.fetchone()
        return row is not None and row[0] == "Lock"

    def result(self, timeout: float = 30) -> Outcome:
        self._thread.join(timeout)
        assert self._outcome is not None, "the background call did not finish"
        return self._outcome


def start_until_blocked(call: Callable[[], Any], *, timeout: float = 10) -> Background:
    """Start ``call`` on another connection; return once it has finished or waits for a row lock.

    PostgreSQL only (``pg_stat_activity``). The caller may hold locks on its
    own connection: this is how a test puts another transaction's statement
    exactly between two statements of its own, without guessing with sleeps.
    """
    background = Background(call)
    background._thread.start()
    background._started.wait(timeout)
    deadline = time.monotonic() + timeout
    while background._outcome is None and not background._waiting_for_a_lock():
        if time.monotonic() > deadline:
            raise AssertionError("the background call neither finished nor waited for a lock")
        time.sleep(0.005)
    return background

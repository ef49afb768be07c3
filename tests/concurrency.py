"""Run service calls on real threads, each with its own database connection."""

from __future__ import annotations

import threading
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

"""The one way the bot reaches Django: synchronous calls on worker threads.

The ORM must never run on the event loop (it raises ``SynchronousOnlyOperation``
there, and a slow query would stall every interaction). Each service call runs
on a thread of a dedicated pool through ``sync_to_async(thread_sensitive=False)``
— the default ``thread_sensitive=True`` would funnel every call through one
shared thread. ``close_old_connections`` before and after each call is what
Django does around a request (and channels' ``database_sync_to_async``): a
connection broken while idle is replaced, and with ``CONN_MAX_AGE=0`` or the
psycopg pool the connection goes back after every call.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

T = TypeVar("T")

_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


MAX_DB_THREADS = 8


def db_thread_count() -> int:
    """Eight threads, or fewer if the database pool has fewer connections.

    More threads than pooled connections would only queue inside the pool (and
    hit its timeout under load instead of waiting in the executor). More than
    eight does not add throughput — trades on one market serialise on its row
    lock — but does take the GIL from the event loop: in ``bench/bot.py``, 16
    threads doubled the time interactions waited to be acknowledged.
    """
    options = settings.DATABASES["default"].get("OPTIONS", {})
    pool = options.get("pool") if isinstance(options, dict) else None
    if isinstance(pool, dict) and pool.get("max_size"):
        return max(2, min(MAX_DB_THREADS, int(pool["max_size"])))
    return MAX_DB_THREADS


def db_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            _executor = ThreadPoolExecutor(
                max_workers=db_thread_count(), thread_name_prefix="bot-db"
            )
        return _executor


def _run_with_fresh_connection(fn: Callable[..., T], args: tuple, kwargs: dict) -> T:
    close_old_connections()
    try:
        return fn(*args, **kwargs)
    finally:
        close_old_connections()


async def call(fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` (a service or selector) off the event loop."""
    runner = sync_to_async(
        # Looked up on every call (not bound once) so tests can observe the calls.
        _run_with_fresh_connection,
        thread_sensitive=False,
        executor=db_executor(),
    )
    return await runner(fn, args, kwargs)

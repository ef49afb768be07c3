"""Prometheus metrics of the Celery worker, and the worker's and beat's heartbeats.

The worker is its own process (and, with the default prefork pool, several:
tasks run in forked children), so it serves its own ``/metrics`` on
``WORKER_METRICS_PORT`` (``0`` turns it off), apart from the web's:

* every child writes its samples to files in a directory of the worker's own
  (prometheus_client's multiprocess mode), which ``predictmarket.celery`` sets
  before anything imports prometheus_client — never the web's directory, so two
  processes on one host never sum into each other's numbers;
* the main process serves those files summed, plus figures read from the
  database at scrape time (DRIP transfers by state, outbox lag per consumer,
  markets by status, the settlement backlog, heartbeat ages), which are exact
  whichever process wrote the rows.

Task counts, durations, failures and retries are recorded from Celery's task
signals; settlement, refund and reconciliation figures by the services that
do the work (``betting.settlement``, ``points.reconciliation``, …) in the
child that runs them.

Heartbeats: the worker's timer and beat's scheduler loop each write a stamp
(``predictmarket.heartbeats``) that ``/health/ready`` reads.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from celery import bootsteps, signals
from celery.beat import PersistentScheduler
from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from predictmarket import heartbeats  # constants and lazy model imports only

logger = logging.getLogger(__name__)

TASKS = Counter(
    "predictmarket_celery_tasks_total",
    "Celery tasks finished, by task name and final state (SUCCESS, FAILURE, RETRY, …)",
    ["task", "state"],
)
TASK_SECONDS = Histogram(
    "predictmarket_celery_task_seconds",
    "Time a Celery task ran, by task name",
    ["task"],
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0),
)
TASK_FAILURES = Counter(
    "predictmarket_celery_task_failures_total",
    "Celery tasks that raised, by task name and exception type",
    ["task", "exception"],
)
TASK_RETRIES = Counter(
    "predictmarket_celery_task_retries_total", "Celery task retries, by task name", ["task"]
)

_started: dict[str, float] = {}

# The worker's main process reads the database and the broker from threads (the
# exporter's scrapes, the heartbeat timer) while it forks pool children. A child
# forked while such a thread is inside psycopg, a lock or an open connection
# inherits that state and can hang on its first query (CI saw a child take a
# task and never run it). So that work runs under this lock, and a fork waits for
# it (``os.register_at_fork`` in ``_start_exporter``): no such thread is ever mid-way
# when a child is made.
_main_process_io = threading.Lock()
_fork_guard_registered = False


def _guard_forks() -> None:
    global _fork_guard_registered
    if _fork_guard_registered:
        return
    _fork_guard_registered = True
    os.register_at_fork(
        before=_main_process_io.acquire,
        after_in_parent=_main_process_io.release,
        after_in_child=_main_process_io.release,
    )


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, **_: Any) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_finished(
    task_id: str | None = None, task: Any = None, state: str | None = None, **_: Any
) -> None:
    name = getattr(task, "name", None) or "unknown"
    started = _started.pop(task_id, None) if task_id else None
    if started is not None:
        TASK_SECONDS.labels(name).observe(time.perf_counter() - started)
    TASKS.labels(name, state or "UNKNOWN").inc()


@signals.task_failure.connect
def _task_failed(sender: Any = None, exception: BaseException | None = None, **_: Any) -> None:
    TASK_FAILURES.labels(getattr(sender, "name", None) or "unknown", type(exception).__name__).inc()


@signals.task_retry.connect
def _task_retried(sender: Any = None, **_: Any) -> None:
    TASK_RETRIES.labels(getattr(sender, "name", None) or "unknown").inc()


# ------------------------------------------------------------------------------
# Figures read from the database at scrape time
# ------------------------------------------------------------------------------
class DatabaseCollector(Collector):
    """Counts that rows already hold; exact whichever process wrote the rows."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        with _main_process_io:
            # Whole families only, computed under the lock, then handed over.
            return iter(list(self._collect_closing()))

    def _collect_closing(self) -> Iterator[GaugeMetricFamily]:
        from django.db import close_old_connections, connection

        try:
            yield from self._collect()
        except Exception:  # a scrape must answer; the failure shows as database_up 0
            logger.exception("worker metrics: reading the database failed")
            failed = GaugeMetricFamily(
                "predictmarket_worker_metrics_database_up",
                "1 when the worker's exporter could read the database at this scrape",
            )
            failed.add_metric([], 0)
            yield failed
            return
        finally:
            # The exporter's thread is not a request: close its connection each scrape.
            close_old_connections()
            connection.close()
        ok = GaugeMetricFamily(
            "predictmarket_worker_metrics_database_up",
            "1 when the worker's exporter could read the database at this scrape",
        )
        ok.add_metric([], 1)
        yield ok

    def _collect(self) -> Iterator[GaugeMetricFamily]:
        from django.db.models import Count
        from django.utils import timezone

        from betting.settlement import unsettled_decided_markets
        from markets.models import Market
        from points.models import DripTransfer
        from predictmarket.outbox_status import outbox_lag

        families = []
        transfers = GaugeMetricFamily(
            "predictmarket_drip_transfers", "DRIP transfers by state", labels=["state"]
        )
        for row in DripTransfer.objects.values("status").annotate(n=Count("id")):
            transfers.add_metric([row["status"]], row["n"])
        families.append(transfers)

        markets = GaugeMetricFamily(
            "predictmarket_markets", "Markets by status (every guild)", labels=["status"]
        )
        for row in Market.objects.values("status").annotate(n=Count("id")):
            markets.add_metric([row["status"]], row["n"])
        families.append(markets)

        backlog = GaugeMetricFamily(
            "predictmarket_settlement_backlog_markets",
            "Markets resolved, cancelled or refunded whose payouts are not done yet",
        )
        backlog.add_metric([], unsettled_decided_markets().count())
        families.append(backlog)

        now = timezone.now()
        lag_events = GaugeMetricFamily(
            "predictmarket_outbox_lag_events",
            "Outbox events a consumer has not acknowledged yet",
            labels=["consumer"],
        )
        lag_seconds = GaugeMetricFamily(
            "predictmarket_outbox_lag_seconds",
            "Age of the oldest outbox event a consumer has not acknowledged (0 when caught up)",
            labels=["consumer"],
        )
        for lag in outbox_lag():
            age = lag.oldest_age(now)
            lag_events.add_metric([lag.consumer], lag.pending)
            lag_seconds.add_metric([lag.consumer], age.total_seconds() if age else 0.0)
        families += [lag_events, lag_seconds]

        ages = GaugeMetricFamily(
            "predictmarket_process_heartbeat_age_seconds",
            "Seconds since a background process last wrote its heartbeat",
            labels=["process"],
        )
        for name in (heartbeats.WORKER, heartbeats.BEAT):
            age = heartbeats.heartbeat_age(name)
            if age is not None:
                ages.add_metric([name], age)
        families.append(ages)
        yield from families


class BrokerCollector(Collector):
    """Messages waiting on the broker in each queue this worker consumes (its queue depth)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from predictmarket.celery import app

        family = GaugeMetricFamily(
            "predictmarket_celery_queue_messages",
            "Messages waiting on the broker in a Celery queue",
            labels=["queue"],
        )
        names = sorted(app.amqp.queues) or [app.conf.task_default_queue]
        try:
            with _main_process_io, app.connection_for_read() as connection:
                channel = connection.default_channel
                for name in names:
                    # Not passive: kombu's Redis transport answers a passive declare of
                    # an empty queue with NOT_FOUND. The worker declares these anyway.
                    _, waiting, _ = channel.queue_declare(queue=name)
                    family.add_metric([name], waiting)
        except Exception:  # the broker being down shows in its own check and alerts
            logger.warning("worker metrics: reading the broker's queues failed", exc_info=True)
            return
        yield family


# ------------------------------------------------------------------------------
# The exporter and the heartbeats
# ------------------------------------------------------------------------------
def multiprocess_directory() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def clear_directory(directory: str) -> None:
    """Samples of an earlier run of the worker would be summed into this one's."""
    for stale in Path(directory).glob("*.db"):
        stale.unlink(missing_ok=True)


def build_registry() -> CollectorRegistry:
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    if multiprocess_directory():
        multiprocess.MultiProcessCollector(registry)
    else:  # a worker started without the CLI (tests, --pool=solo embedding)
        from prometheus_client import REGISTRY

        registry = REGISTRY
    registry.register(DatabaseCollector())
    registry.register(BrokerCollector())
    return registry


@signals.worker_init.connect
def _start_exporter(**_: Any) -> None:
    from django.conf import settings

    _guard_forks()
    port = settings.WORKER_METRICS_PORT
    if not port:
        return
    directory = multiprocess_directory()
    if directory:
        clear_directory(directory)
    start_http_server(port, registry=build_registry())
    logger.info("worker metrics on port %s (samples in %s)", port, directory or "this process")


@signals.worker_process_shutdown.connect
def _child_exited(pid: int | None = None, **_: Any) -> None:
    if multiprocess_directory():
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


def _write_heartbeat(name: str) -> None:
    from django.db import connection

    with _main_process_io:
        try:
            heartbeats.heartbeat_write(name)
        except Exception:  # a missed beat shows as a stale heartbeat
            logger.exception("could not write the %s heartbeat", name)
        finally:
            # Not kept open between beats: a child forked meanwhile would inherit
            # the socket of a connection it cannot use.
            connection.close()


class WorkerHeartbeat(bootsteps.StartStopStep):
    """The worker's main process stamps its heartbeat on its own timer."""

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker: Any, **kwargs: Any) -> None:
        super().__init__(worker, **kwargs)
        self.tref: Any = None

    def start(self, worker: Any) -> None:
        _write_heartbeat(heartbeats.WORKER)
        self.tref = worker.timer.call_repeatedly(
            heartbeats.INTERVAL, _write_heartbeat, (heartbeats.WORKER,), priority=10
        )

    def stop(self, worker: Any) -> None:
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None


class HeartbeatScheduler(PersistentScheduler):
    """Beat's scheduler, stamping the beat heartbeat from its own loop.

    A stamp written from the loop that sends the schedule (not a side thread)
    goes stale exactly when the schedule stops being sent.
    """

    _last_beat = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.monotonic()
        if now - self._last_beat >= heartbeats.INTERVAL:
            self._last_beat = now
            _write_heartbeat(heartbeats.BEAT)
        return min(super().tick(*args, **kwargs), heartbeats.INTERVAL)

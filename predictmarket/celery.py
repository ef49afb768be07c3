"""The Celery application, configured from Django settings (``CELERY_*``).

Worker and beat log through Django's ``LOGGING`` (JSON in production, like the
web) instead of Celery's own handlers: a receiver of ``setup_logging`` tells
Celery not to hijack the root logger. Every record logged while a task runs
carries the task's name and id (``predictmarket.logging.bind_task``).

Tracing (``OTEL_EXPORTER_OTLP_ENDPOINT``) starts in each pool process
(``worker_process_init``: prefork children, or the solo pool's one process) and
in beat (``beat_init``); each task run is a span, a child of the span that
enqueued it (the web request, the bot interaction, beat).
"""

from __future__ import annotations

import logging.config
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "predictmarket.settings")


def _is_celery_worker(argv: list[str]) -> bool:
    """``celery … worker …`` or ``python -m celery … worker …``."""
    program = Path(argv[0]).name if argv else ""
    from_cli = program.startswith("celery") or argv[0].endswith("celery/__main__.py")
    return from_cli and "worker" in argv[1:]


if _is_celery_worker(sys.argv):
    # The worker's children write metric samples to files the main process serves
    # (prometheus_client's multiprocess mode, chosen when it is first imported, so
    # here, before anything imports it). A directory of the worker's own: sharing
    # the web's would sum web and worker samples into each other's /metrics.
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = os.environ.get(
        "WORKER_METRICS_DIR"
    ) or tempfile.mkdtemp(prefix="predictmarket-worker-metrics-")
    Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).mkdir(parents=True, exist_ok=True)
    # No psycopg pool in the worker: Celery closes a prefork child's connections
    # (and its pool) around every task anyway, and a pool the main process opened
    # (its metrics and heartbeat threads use the database) would be inherited by
    # every child forked later, whose closing it ends the parent's connections.
    os.environ.setdefault("DATABASE_POOL", "false")

# After the metrics directory is chosen:
from celery import Celery, Task  # noqa: E402
from celery.signals import (  # noqa: E402
    beat_init,
    celeryd_init,
    setup_logging,
    task_postrun,
    task_prerun,
    worker_process_init,
)

from predictmarket import tracing, worker_metrics  # noqa: E402
from predictmarket.logging import bind_task, unbind_task  # noqa: E402

app = Celery("predictmarket")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.steps["worker"].add(worker_metrics.WorkerHeartbeat)
app.autodiscover_tasks()


@setup_logging.connect
def _log_like_the_web(**_: Any) -> None:
    """Worker and beat: the project's LOGGING (``LOG_FORMAT``, ``LOG_LEVEL``), not Celery's."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    logging.captureWarnings(True)  # warnings are records too, not bare lines on stderr


# The worker warns (e.g. about running as root) before it sets up logging: set it up first.
celeryd_init.connect(_log_like_the_web)


@task_prerun.connect
def _bind_task(*, task_id: str, task: Task, **_: Any) -> None:
    bind_task(task_id=task_id, task_name=task.name)


@task_postrun.connect
def _unbind_task(*, task_id: str, **_: Any) -> None:
    unbind_task(task_id=task_id)


@worker_process_init.connect
def _trace_worker_process(**_: Any) -> None:
    # In the child, after the fork: its own provider and export thread.
    tracing.init_tracing("worker")


@beat_init.connect
def _trace_beat(**_: Any) -> None:
    tracing.init_tracing("beat")

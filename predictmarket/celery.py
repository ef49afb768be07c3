"""The Celery application, configured from Django settings (``CELERY_*``)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

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

from celery import Celery  # noqa: E402 - after the metrics directory is chosen

from predictmarket import worker_metrics  # noqa: E402

app = Celery("predictmarket")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.steps["worker"].add(worker_metrics.WorkerHeartbeat)
app.autodiscover_tasks()

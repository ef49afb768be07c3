"""gunicorn settings for the ``web`` process (Procfile)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("WEB_THREADS", "4"))
timeout = 30
accesslog = "-"
preload_app = True

_multiproc_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _multiproc_dir:
    # Emptied and made here, when gunicorn reads this file: before the preloaded
    # app imports prometheus_client (which needs the directory to exist), and so
    # metrics files from a previous run are not summed into this one's.
    shutil.rmtree(_multiproc_dir, ignore_errors=True)
    Path(_multiproc_dir).mkdir(parents=True, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    if _multiproc_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]

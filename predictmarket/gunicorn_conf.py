"""gunicorn settings for the ``web`` process (Procfile).

With ``LOG_FORMAT=json`` (the production default) gunicorn's own logs are JSON
like the application's: its error log with the same fields, and one access
record per request with method, path, status, duration, size and the
``X-Request-ID`` the application answered with (``JsonLogger``).

Tracing (``OTEL_EXPORTER_OTLP_ENDPOINT``): the preloading master instruments the
app, and each worker sets its own tracer provider after the fork (``post_fork``).
"""

from __future__ import annotations

import logging
import os
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

from gunicorn.glogging import Logger

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

if preload_app:
    # After the metrics directory is made (importing predictmarket imports
    # prometheus_client). The master imports the app and instruments it; each
    # worker sets its own tracer provider in post_fork: the export thread of
    # one set in the master would not run in the workers.
    from predictmarket import tracing

    tracing.set_provider_after_fork()


def _json_formatter() -> Any:
    """The web's JSON formatter (settings' ``LOGGING``), or None when logs are for a console."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "predictmarket.settings")
    from django.conf import settings
    from pythonjsonlogger.json import JsonFormatter

    if settings.LOG_FORMAT != "json":
        return None
    spec = settings.LOGGING["formatters"]["json"]
    return JsonFormatter(spec["fmt"], rename_fields=spec["rename_fields"])


class JsonLogger(Logger):
    """gunicorn's logger, writing JSON records when ``LOG_FORMAT`` is json."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self._json = _json_formatter()
        if self._json is None:
            return
        from predictmarket.logging import RequestIdFilter, TraceIdFilter

        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                if getattr(handler, "_gunicorn", False):
                    handler.setFormatter(self._json)
                    handler.addFilter(RequestIdFilter())
                    handler.addFilter(TraceIdFilter())
        # Python's warnings (a missing static directory, a deprecation) become JSON
        # records of the root logger too, instead of bare lines on stderr.
        logging.captureWarnings(True)

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: timedelta) -> None:
        if self._json is None:
            super().access(resp, req, environ, request_time)
            return
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        headers = resp.headers.items() if hasattr(resp.headers, "items") else resp.headers
        request_id = next((v for k, v in headers if k.lower() == "x-request-id"), "-")
        method, path = environ.get("REQUEST_METHOD", "-"), environ.get("PATH_INFO", "")
        fields: dict[str, Any] = {
            "method": method,
            "path": path,
            "query": environ.get("QUERY_STRING", ""),
            "status": int(status),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "bytes": getattr(resp, "sent", None),
            "remote_addr": environ.get("REMOTE_ADDR", "-"),
            "user_agent": environ.get("HTTP_USER_AGENT", ""),
            "request_id": request_id,
        }
        # A record that cannot be written is reported by logging itself (handleError).
        self.access_log.info("%s %s %s", method, path, status, extra=fields)


logger_class = JsonLogger


def post_fork(server: object, worker: object) -> None:
    from predictmarket import tracing

    tracing.init_tracing_after_fork("web")  # nothing unless OTEL_EXPORTER_OTLP_ENDPOINT is set


def child_exit(server: object, worker: object) -> None:
    if _multiproc_dir:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[attr-defined]

"""OpenTelemetry tracing, opt-in: on when ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set, off otherwise.

Each process calls ``init_tracing`` once with its kind (``web``, ``worker``,
``beat``, ``bot``): it sets a tracer provider that batches spans to the OTLP
endpoint (HTTP/protobuf; the exporter reads ``OTEL_EXPORTER_OTLP_*`` itself,
the provider ``OTEL_TRACES_SAMPLER`` / ``OTEL_TRACES_SAMPLER_ARG``) and
instruments Django, psycopg, Redis, httpx and Celery. Nothing is patched and no
thread is started when tracing is off.

Where each process calls it, and why there:

* web: ``wsgi.py``/``asgi.py``. Django's middleware must be inserted before the
  handler loads it, so the instrumentation happens on import; under gunicorn's
  ``preload_app`` the provider (whose export thread would not survive the fork)
  is set in each worker's ``post_fork`` instead (``gunicorn_conf.py``).
* worker: ``worker_process_init`` in each prefork child (``predictmarket.celery``).
* beat: ``beat_init``.
* bot: at the start of ``runbot``; each interaction is a span of its own
  (``botrunner.invocation.run``), and the database spans of the service calls
  it makes on worker threads are its children (``sync_to_async`` carries the
  context into the thread).

psycopg is instrumented by wrapping ``psycopg.connect`` and
``psycopg.Connection.connect`` (the pool's way in), so only connections opened
afterwards are traced: nothing here opens one before. The hot-path statements
of ``predictmarket.db`` run on a ``HotCursor`` (a ``RawCursor``) of their own, which the
instrumentation's cursor factory never sees: they get a traced ``RawCursor``.

A database, Redis or HTTP call made outside any request, task or interaction
(the pool configuring a connection on its own thread, heartbeats, the bot's
outbox poll, the worker's metrics exporter) would be a trace of one span every
few seconds: such spans are not exported (``WithoutStrayClientSpans``).
"""

from __future__ import annotations

import logging
import os
import threading
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind

if TYPE_CHECKING:
    from opentelemetry.instrumentation.instrumentor import BaseInstrumentor

logger = logging.getLogger(__name__)

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")

_lock = threading.Lock()
_provider: TracerProvider | None = None
# Set by gunicorn's configuration when the app is preloaded: the master only
# instruments, and each worker sets its own provider after the fork.
_provider_waits_for_fork = False


def tracing_enabled() -> bool:
    """An OTLP endpoint is configured (an empty value is off)."""
    return any(os.environ.get(name, "").strip() for name in ENDPOINT_VARIABLES)


def service_name(kind: str) -> str:
    return os.environ.get("OTEL_SERVICE_NAME", "").strip() or f"predictmarket-{kind}"


def init_tracing(kind: str, *, span_processor: SpanProcessor | None = None) -> bool:
    """Trace this process (once): a provider exporting by OTLP, and the libraries instrumented.

    Does nothing and returns False unless an OTLP endpoint is set or a test
    passes its own ``span_processor`` (the SDK's in-memory exporter).
    """
    global _provider
    if span_processor is None and not tracing_enabled():
        return False
    with _lock:
        if _provider is None and not _provider_waits_for_fork:
            if span_processor is None:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import (
                    OTLPSpanExporter,
                )

                span_processor = BatchSpanProcessor(OTLPSpanExporter())
            resource = Resource.create(
                {SERVICE_NAME: service_name(kind), "predictmarket.process": kind}
            )
            provider = TracerProvider(resource=resource)  # the sampler comes from OTEL_TRACES_*
            provider.add_span_processor(WithoutStrayClientSpans(span_processor))
            trace.set_tracer_provider(provider)
            _provider = provider
            logger.info("tracing on: %s spans exported by OTLP", service_name(kind))
        instrument_libraries()
    return True


class WithoutStrayClientSpans(SpanProcessor):
    """Passes spans on to ``processor``, except a client call that is a trace by itself.

    A client span (SQL, Redis, HTTP) with no parent was made outside any
    request, task or interaction; what it belongs to is periodic housekeeping.
    """

    def __init__(self, processor: SpanProcessor) -> None:
        self.processor = processor

    @staticmethod
    def _stray(span: ReadableSpan) -> bool:
        return span.kind is SpanKind.CLIENT and span.parent is None

    def on_start(self, span: Span, parent_context: otel_context.Context | None = None) -> None:
        if not self._stray(span):
            self.processor.on_start(span, parent_context=parent_context)

    def on_end(self, span: ReadableSpan) -> None:
        if not self._stray(span):
            self.processor.on_end(span)

    def shutdown(self) -> None:
        self.processor.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self.processor.force_flush(timeout_millis)


def set_provider_after_fork() -> None:
    """gunicorn with ``preload_app``: the master instruments; workers set the provider.

    ``BatchSpanProcessor`` exports from a thread, and a thread started in the
    master does not run in the forked workers.
    """
    global _provider_waits_for_fork
    _provider_waits_for_fork = True


def init_tracing_after_fork(kind: str) -> bool:
    """gunicorn's ``post_fork``: this worker's own provider (and export thread)."""
    global _provider_waits_for_fork
    _provider_waits_for_fork = False
    return init_tracing(kind)


def _instrumentors() -> list[tuple[BaseInstrumentor, dict[str, Any]]]:
    """Each instrumentor, with the options it is instrumented with."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    return [
        (DjangoInstrumentor(), {}),
        # No SQL comments: statements stay as Django wrote them.
        (PsycopgInstrumentor(), {"enable_commenter": False}),
        (RedisInstrumentor(), {}),
        (HTTPXClientInstrumentor(), {}),
        # In the web and the bot too: a task they enqueue carries their trace to the worker.
        (CeleryInstrumentor(), {}),
    ]


def instrument_libraries() -> None:
    """Patch the libraries once; their spans go to whichever provider is set (now or later)."""
    for instrumentor, options in _instrumentors():
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(**options)
    _trace_raw_cursors()


def uninstrument_libraries() -> None:
    """Undo ``instrument_libraries`` (tests: instrumentation is process-global)."""
    for instrumentor, _ in _instrumentors():
        if instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.uninstrument()
    from predictmarket import db

    db.use_raw_cursor_class(None)


def _trace_raw_cursors() -> None:
    """``predictmarket.db``'s ``HotCursor`` statements as spans like every other query's.

    ``_new_cursor_factory`` is how the psycopg instrumentation itself builds the
    traced cursor class of each connection it opens (requirements.txt pins the
    version this is written against; ``tests/api/test_a_bet_is_one_trace.py``
    fails if the bet's own statements stop appearing).
    """
    from opentelemetry.instrumentation.psycopg import _new_cursor_factory

    from predictmarket import db

    db.use_raw_cursor_class(_new_cursor_factory(base_factory=db.HotCursor))

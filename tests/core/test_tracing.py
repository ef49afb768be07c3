"""Tracing is opt-in: nothing is patched without an OTLP endpoint; with one, spans reach it.

The exporter is the real OTLP/HTTP one, sending to a collector on loopback
(``tests/otlp_collector.py``).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from django.conf import settings
from opentelemetry import trace
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.trace import ProxyTracerProvider, format_span_id, format_trace_id

from predictmarket import tracing
from tests.conftest import json_records as records
from tests.otlp_collector import Collector, serving

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
OTEL_MIDDLEWARE = DjangoInstrumentor._opentelemetry_middleware


@pytest.fixture
def collector() -> Iterator[Collector]:
    with serving() as server:
        yield server


@pytest.fixture
def no_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def nothing_is_instrumented() -> bool:
    return (
        not any(i.is_instrumented_by_opentelemetry for i, _ in tracing._instrumentors())
        and OTEL_MIDDLEWARE not in settings.MIDDLEWARE
        and not hasattr(psycopg.connect, "__wrapped__")
        and not hasattr(psycopg.Connection.connect, "__wrapped__")
    )


def test_it_is_off_without_an_endpoint(tracing_reset: None, no_endpoint: None) -> None:
    middleware = list(settings.MIDDLEWARE)

    assert tracing.init_tracing("web") is False

    assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider)  # none was set
    assert nothing_is_instrumented()
    assert middleware == settings.MIDDLEWARE


def test_an_empty_endpoint_is_off(
    tracing_reset: None, no_endpoint: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")

    assert tracing.init_tracing("worker") is False
    assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider)
    assert nothing_is_instrumented()


def test_with_an_endpoint_spans_are_exported_by_otlp(
    tracing_reset: None, no_endpoint: None, collector: Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.endpoint)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)

    assert tracing.init_tracing("worker") is True
    assert OTEL_MIDDLEWARE in settings.MIDDLEWARE
    assert hasattr(psycopg.connect, "__wrapped__")
    with trace.get_tracer("tests").start_as_current_span("settle market 7") as span:
        trace_id = span.get_span_context().trace_id
    assert trace.get_tracer_provider().force_flush()  # type: ignore[attr-defined]

    [(path, content_type, request)] = collector.received
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    [resource_spans] = request.resource_spans
    resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
    assert resource["service.name"] == "predictmarket-worker"
    assert resource["predictmarket.process"] == "worker"
    [exported] = [s for scope in resource_spans.scope_spans for s in scope.spans]
    assert exported.name == "settle market 7"
    assert exported.trace_id.hex() == format_trace_id(trace_id)


def test_otel_service_name_names_the_service(
    tracing_reset: None, no_endpoint: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "markets-bot")

    assert tracing.init_tracing("bot")

    resource = trace.get_tracer_provider().resource  # type: ignore[attr-defined]
    assert resource.attributes["service.name"] == "markets-bot"
    assert resource.attributes["predictmarket.process"] == "bot"


def test_a_preloading_master_instruments_and_each_worker_sets_its_provider(
    tracing_reset: None, no_endpoint: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    tracing.set_provider_after_fork()  # gunicorn_conf, when preload_app is on

    assert tracing.init_tracing("web")  # wsgi.py, in the master
    assert OTEL_MIDDLEWARE in settings.MIDDLEWARE  # before the handler loads its middleware
    assert isinstance(trace.get_tracer_provider(), ProxyTracerProvider)  # no export thread yet

    assert tracing.init_tracing_after_fork("web")  # post_fork, in the worker
    resource = trace.get_tracer_provider().resource  # type: ignore[attr-defined]
    assert resource.attributes["service.name"] == "predictmarket-web"


@pytest.mark.postgres  # database spans come from the psycopg instrumentation
@pytest.mark.django_db(transaction=True)
def test_a_query_outside_any_span_is_no_trace(spans: Any) -> None:
    from points.models import Guild

    spans.clear()
    Guild.objects.count()  # the pool's configure, a heartbeat: housekeeping
    assert spans.get_finished_spans() == ()

    with trace.get_tracer("tests").start_as_current_span("a task"):
        Guild.objects.count()
    assert [span.name for span in spans.get_finished_spans()] == ["SELECT", "a task"]


# ------------------------------------------------------------------------------
# The trace id in the JSON logs
# ------------------------------------------------------------------------------
def test_a_log_record_inside_a_span_carries_its_trace_id(spans: Any, json_log: io.StringIO) -> None:
    logger = logging.getLogger("tests.tracing")
    with trace.get_tracer("tests").start_as_current_span("POST /bets") as span:
        logger.warning("inside")
    logger.warning("outside")

    inside, outside = records(json_log)
    context = span.get_span_context()
    assert inside["message"] == "inside"
    assert inside["trace_id"] == format_trace_id(context.trace_id)
    assert inside["span_id"] == format_span_id(context.span_id)
    assert outside["message"] == "outside"
    assert "trace_id" not in outside and "span_id" not in outside


def test_without_tracing_records_carry_no_trace_id(
    tracing_reset: None, no_endpoint: None, json_log: io.StringIO
) -> None:
    tracing.init_tracing("web")
    with trace.get_tracer("tests").start_as_current_span("not recorded"):
        logging.getLogger("tests.tracing").warning("untraced")

    [record] = records(json_log)
    assert "trace_id" not in record


@pytest.mark.parametrize(
    ("signal_name", "kind"), [("worker_process_init", "worker"), ("beat_init", "beat")]
)
def test_celery_processes_start_tracing_when_they_start(
    tracing_reset: None,
    no_endpoint: None,
    monkeypatch: pytest.MonkeyPatch,
    signal_name: str,
    kind: str,
) -> None:
    from celery import signals

    import predictmarket.celery  # noqa: F401  (connects the receivers)

    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)

    getattr(signals, signal_name).send(sender=None)

    resource = trace.get_tracer_provider().resource  # type: ignore[attr-defined]
    assert resource.attributes["service.name"] == f"predictmarket-{kind}"
    assert OTEL_MIDDLEWARE in settings.MIDDLEWARE

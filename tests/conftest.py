"""Shared fixtures and the rules for tests that need real servers.

Tests marked ``postgres`` or ``redis`` run only when ``DATABASE_URL`` /
``REDIS_URL`` point at those servers (as in CI); on the embedded defaults they
are reported as skipped with the reason, never silently passed.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from pytest_django import Settings

from points.models import Account, Guild, Member
from points.services import house_account
from tests.factories import GuildFactory, MemberFactory
from tests.fake_discord import FakeDiscord


def pytest_report_header(config: pytest.Config) -> list[str]:
    database = (
        "PostgreSQL (DATABASE_URL)"
        if settings.DATABASE_IS_POSTGRES
        else "SQLite (embedded default; PostgreSQL tests will be skipped)"
    )
    cache = (
        "Redis (REDIS_URL)"
        if settings.REDIS_URL
        else "local memory (embedded default; Redis tests will be skipped)"
    )
    return [f"predictmarket database: {database}", f"predictmarket cache/broker: {cache}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    no_postgres = pytest.mark.skip(reason="needs PostgreSQL: set DATABASE_URL=postgres://…")
    no_redis = pytest.mark.skip(reason="needs Redis: set REDIS_URL=redis://…")
    for item in items:
        if "postgres" in item.keywords and not settings.DATABASE_IS_POSTGRES:
            item.add_marker(no_postgres)
        if "redis" in item.keywords and not settings.REDIS_URL:
            item.add_marker(no_redis)


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    """Each test starts with an empty cache (rate-limit counters live there)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session")
def _discord_server() -> Iterator[tuple[FakeDiscord, str]]:
    fake = FakeDiscord()
    base_url = fake.start()
    yield fake, base_url
    fake.stop()


@pytest.fixture
def fake_discord(_discord_server: tuple[FakeDiscord, str], settings: Settings) -> FakeDiscord:
    """Discord's HTTP API on loopback (empty for each test), with the web's bot token."""
    fake, base_url = _discord_server
    fake.reset()
    settings.DISCORD_API_BASE_URL = base_url
    settings.DISCORD_TOKEN = fake.token
    settings.DISCORD_API_TIMEOUT_SECONDS = 0.5
    return fake


# ------------------------------------------------------------------------------
# Personas: the owner's guild with its house account, two members, an outsider
# from another guild, and a moderator. Members are created through
# ``member_ensure``, so each starts with the guild's real starting grant.
# ------------------------------------------------------------------------------
MODERATOR_DISCORD_ID = 555_000_000_000_000_001


@pytest.fixture
def guild(db: None) -> Guild:
    """The owner's guild (default settings); its house account issues the points."""
    return GuildFactory(name="Owner's guild")


@pytest.fixture
def house(guild: Guild) -> Account:
    return house_account(guild.pk)


@pytest.fixture
def member(guild: Guild) -> Member:
    return MemberFactory(guild=guild, display_name="alice")


@pytest.fixture
def other_member(guild: Guild) -> Member:
    return MemberFactory(guild=guild, display_name="bob")


@pytest.fixture
def outsider(db: None) -> Member:
    """A member of another guild."""
    return MemberFactory(display_name="mallory")


@pytest.fixture
def moderator() -> str:
    """The actor string services record for a moderator acting from Discord."""
    return f"discord:{MODERATOR_DISCORD_ID}"


@pytest.fixture
def background_alive(db: None) -> None:
    """The Celery worker and beat have just beaten (``/health/ready`` checks them)."""
    from predictmarket import heartbeats

    heartbeats.heartbeat_write(heartbeats.WORKER)
    heartbeats.heartbeat_write(heartbeats.BEAT)


# ------------------------------------------------------------------------------
# Tracing: the SDK's in-memory exporter behind a real provider, for one test.
# ------------------------------------------------------------------------------
def _reopen_database_connections() -> None:
    """Instrumentation traces only connections opened after it: start new ones (and a new pool)."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        connection.close()
        if hasattr(connection, "close_pool"):  # PostgreSQL: pooled connections predate it too
            connection.close_pool()


@pytest.fixture
def tracing_reset(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """OpenTelemetry's globals as in a fresh process for this test, and put back afterwards.

    The provider and the instrumentation are process-global, and OpenTelemetry
    sets a provider once per process: its globals are restored as they were (as
    OpenTelemetry's own test utilities do), so the rest of the suite runs untraced.
    """
    from opentelemetry import trace
    from opentelemetry.util._once import Once

    from predictmarket import tracing

    monkeypatch.setattr(trace, "_TRACER_PROVIDER", None)
    monkeypatch.setattr(trace, "_TRACER_PROVIDER_SET_ONCE", Once())
    monkeypatch.setattr(tracing, "_provider", None)
    monkeypatch.setattr(tracing, "_provider_waits_for_fork", False)
    try:
        yield
    finally:
        tracing.uninstrument_libraries()
        _reopen_database_connections()
        provider = trace.get_tracer_provider()
        if hasattr(provider, "shutdown"):
            provider.shutdown()


@pytest.fixture
def spans(tracing_reset: None) -> Any:
    """Tracing on for this test, every finished span kept in memory (the SDK's own exporter)."""
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from predictmarket import tracing

    exporter = InMemorySpanExporter()
    assert tracing.init_tracing("test", span_processor=SimpleSpanProcessor(exporter))
    _reopen_database_connections()
    return exporter


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    """The root logger writing as production does: the json formatter and filters of LOGGING."""
    from django.utils.module_loading import import_string
    from pythonjsonlogger.json import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    spec = settings.LOGGING["formatters"]["json"]
    handler.setFormatter(JsonFormatter(spec["fmt"], rename_fields=spec["rename_fields"]))
    for name in settings.LOGGING["handlers"]["stderr"]["filters"]:
        handler.addFilter(import_string(settings.LOGGING["filters"][name]["()"])())
    root = logging.getLogger()
    root.addHandler(handler)
    yield stream
    root.removeHandler(handler)


def json_records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]

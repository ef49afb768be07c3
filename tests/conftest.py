"""Shared fixtures and the rules for tests that need real servers.

Tests marked ``postgres`` or ``redis`` run only when ``DATABASE_URL`` /
``REDIS_URL`` point at those servers (as in CI); on the embedded defaults they
are reported as skipped with the reason, never silently passed.
"""

from __future__ import annotations

import pytest
from django.conf import settings


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

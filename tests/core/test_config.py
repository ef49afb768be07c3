"""Configuration: defaults load, bad values stop start-up with one clear line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from predictmarket.config import Config, ConfigError

ROOT = Path(__file__).resolve().parents[2]
GOOD_SECRET = "k" * 20 + "Z9x!" * 10


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
        and not key.startswith("DJANGO_")
    }
    clean.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_load_with_nothing_set() -> None:
    result = run_manage("shell", "--no-imports", "-c", _PRINT_DEFAULTS)
    assert result.returncode == 0, result.stderr
    values = dict(line.split("=", 1) for line in result.stdout.split())
    assert values == {
        "MAX_BET_AMOUNT": "1000000",
        "MIN_BET_AMOUNT": "1",
        "AUTO_REFUND_HOURS": "120",
        "MIN_RESOLUTION_VOTES": "2",
        "CACHE_TTL": "300",
        "RATE_LIMIT_BETS_PER_MINUTE": "5",
        "RATE_LIMIT_COMMANDS_PER_MINUTE": "10",
        "RATE_LIMIT_GUILD_COMMANDS_PER_MINUTE": "100",
        "RATE_LIMIT_MARKET_CREATIONS_PER_HOUR": "10",
        "ENGINE": "django_prometheus.db.backends.sqlite3",
        "CACHE": "django_prometheus.cache.backends.locmem.LocMemCache",
        "BROKER": "filesystem://",
    }


_PRINT_DEFAULTS = """
from django.conf import settings as s
for name in ["MAX_BET_AMOUNT", "MIN_BET_AMOUNT", "AUTO_REFUND_HOURS", "MIN_RESOLUTION_VOTES",
             "CACHE_TTL", "RATE_LIMIT_BETS_PER_MINUTE", "RATE_LIMIT_COMMANDS_PER_MINUTE",
             "RATE_LIMIT_GUILD_COMMANDS_PER_MINUTE", "RATE_LIMIT_MARKET_CREATIONS_PER_HOUR"]:
    print(f"{name}={getattr(s, name)}")
print("ENGINE=" + s.DATABASES["default"]["ENGINE"])
print("CACHE=" + s.CACHES["default"]["BACKEND"])
print("BROKER=" + s.CELERY_BROKER_URL)
"""


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"MAX_BET_AMOUNT": "-5"}, "MAX_BET_AMOUNT: must be at least 1, got -5"),
        ({"AUTO_REFUND_HOURS": "abc"}, "AUTO_REFUND_HOURS: expected a whole number, got 'abc'"),
        ({"DATABASE_URL": "mysql://db/x"}, "DATABASE_URL: unsupported scheme 'mysql'"),
        ({"DATABASE_URL": "postgres://u:pw@host:notaport/db"}, "DATABASE_URL: is not a valid"),
        ({"DATABASE_URL": "postgres://u:pw@host:5432/"}, "DATABASE_URL: a PostgreSQL URL needs"),
        ({"REDIS_URL": "http://cache"}, "REDIS_URL: is not a valid Redis URL"),
        ({"DJANGO_DEBUG": "maybe"}, "DJANGO_DEBUG: expected true or false"),
        ({"MIN_BET_AMOUNT": "10", "MAX_BET_AMOUNT": "5"}, "MAX_BET_AMOUNT: must not be below"),
        ({"SENTRY_TRACES_SAMPLE_RATE": "2"}, "SENTRY_TRACES_SAMPLE_RATE: must be between"),
        # A guild default past MAX_AMOUNT would overflow the house on the second member.
        ({"STARTING_BALANCE": str(9 * 10**18)}, "STARTING_BALANCE: must be at most 1000000000000"),
        ({"DEFAULT_LIQUIDITY": str(10**13)}, "DEFAULT_LIQUIDITY: must be at most 1000000000000"),
    ],
)
def test_bad_value_stops_startup_with_one_line_naming_the_variable(
    env: dict[str, str], expected: str
) -> None:
    result = run_manage("check", **env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_secret_values_are_never_printed() -> None:
    result = run_manage("check", DATABASE_URL="postgres://admin:hunter2secret@db:xx/app")
    assert result.returncode == 2
    assert "hunter2secret" not in result.stderr + result.stdout
    assert "DATABASE_URL" in result.stderr


def test_production_mode_refuses_missing_secret_key() -> None:
    result = run_manage("check", DJANGO_DEBUG="false", ALLOWED_HOSTS="example.com")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "predictmarket: configuration error: DJANGO_SECRET_KEY: is required but not set"
    )


def test_production_mode_refuses_missing_allowed_hosts() -> None:
    result = run_manage("check", DJANGO_DEBUG="false", DJANGO_SECRET_KEY=GOOD_SECRET)
    assert result.returncode == 2
    assert "ALLOWED_HOSTS: is required" in result.stderr
    assert GOOD_SECRET not in result.stderr


def test_production_mode_passes_deploy_check() -> None:
    result = run_manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY=GOOD_SECRET,
        ALLOWED_HOSTS="markets.example.com",
    )
    assert result.returncode == 0, result.stderr


def test_config_reader_rejects_each_kind_of_bad_value() -> None:
    config = Config({"A": "x", "B": "0", "C": "yes please", "D": "5"})
    with pytest.raises(ConfigError, match="A: expected a whole number"):
        config.int("A", 1)
    with pytest.raises(ConfigError, match="B: must be at least 1"):
        config.int("B", 1, min_value=1)
    with pytest.raises(ConfigError, match="C: expected true or false"):
        config.bool("C", True)
    with pytest.raises(ConfigError, match="D: must be at most 4"):
        config.int("D", 1, max_value=4)
    assert config.int("MISSING", 7) == 7
    assert config.bool("MISSING", False) is False

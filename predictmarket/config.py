"""Validated configuration read from the environment.

Every setting has a default suited to local use, except secrets in production
mode. A bad value stops start-up with one line naming the variable and what is
wrong with it; secret values are never echoed back.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

import environ

__all__ = ["Config", "ConfigError", "exit_on_config_error"]

SECRET_NAMES = frozenset(
    {
        "DJANGO_SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "DISCORD_TOKEN",
        "SENTRY_DSN",
        "DRIP_ENCRYPTION_KEY",
    }
)
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(Exception):
    """A configuration variable is missing or has an unusable value."""

    def __init__(self, name: str, problem: str) -> None:
        self.name = name
        self.problem = problem
        super().__init__(f"{name}: {problem}")


class Config:
    """Typed readers over ``os.environ`` that fail with one clear line."""

    def __init__(self, environ_: dict[str, str] | None = None) -> None:
        self.environ = os.environ if environ_ is None else environ_

    def _raw(self, name: str) -> str | None:
        value = self.environ.get(name)
        if value is None or value.strip() == "":
            return None
        return value.strip()

    def _shown(self, name: str, value: str) -> str:
        return "(hidden)" if name in SECRET_NAMES else repr(value)

    def str(self, name: str, default: str | None = None, *, required: bool = False) -> str:
        value = self._raw(name)
        if value is None:
            if required:
                raise ConfigError(name, "is required but not set")
            return default or ""
        return value

    def bool(self, name: str, default: bool) -> bool:
        value = self._raw(name)
        if value is None:
            return default
        lowered = value.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ConfigError(name, f"expected true or false, got {self._shown(name, value)}")

    def int(
        self,
        name: str,
        default: int,
        *,
        min_value: int | None = None,
        max_value: int | None = None,
    ) -> int:
        value = self._raw(name)
        if value is None:
            result = default
        else:
            try:
                result = int(value)
            except ValueError:
                raise ConfigError(
                    name, f"expected a whole number, got {self._shown(name, value)}"
                ) from None
        if min_value is not None and result < min_value:
            raise ConfigError(name, f"must be at least {min_value}, got {result}")
        if max_value is not None and result > max_value:
            raise ConfigError(name, f"must be at most {max_value}, got {result}")
        return result

    def float(self, name: str, default: float, *, min_value: float, max_value: float) -> float:
        value = self._raw(name)
        if value is None:
            return default
        try:
            result = float(value)
        except ValueError:
            raise ConfigError(name, f"expected a number, got {self._shown(name, value)}") from None
        if not min_value <= result <= max_value:
            raise ConfigError(name, f"must be between {min_value} and {max_value}, got {result}")
        return result

    def list(self, name: str, default: list[str]) -> list[str]:
        value = self._raw(name)
        if value is None:
            return list(default)
        return [item.strip() for item in value.split(",") if item.strip()]

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = self.str(name, default).lower()
        if value not in choices:
            raise ConfigError(name, f"must be one of {', '.join(choices)}, got {value!r}")
        return value

    def database(self, name: str, default: str) -> dict[str, Any]:
        """Parse a database URL; only SQLite and PostgreSQL are supported."""
        url = self._raw(name) or default
        try:
            parts = urlsplit(url)
            scheme = parts.scheme
            if scheme in {"postgres", "postgresql", "pgsql"}:
                if not parts.path.strip("/"):
                    raise ConfigError(name, "a PostgreSQL URL needs a database name")
                parts.port  # noqa: B018 - raises ValueError on a non-numeric port
            elif scheme != "sqlite":
                raise ConfigError(
                    name,
                    f"unsupported scheme {scheme!r} (use postgres://… or sqlite:///…)",
                )
            config = environ.Env.db_url_config(url)
        except ConfigError:
            raise
        except ValueError:
            raise ConfigError(name, "is not a valid database URL") from None
        return config

    def redis_url(self, name: str) -> str:
        value = self._raw(name)
        if value is None:
            return ""
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError on a non-numeric port
        except ValueError:
            raise ConfigError(name, "is not a valid Redis URL") from None
        if parts.scheme not in {"redis", "rediss", "unix"} or not (parts.hostname or parts.path):
            raise ConfigError(name, "is not a valid Redis URL (use redis://host:port/db)")
        return value


def exit_on_config_error(load: Callable[[], object]) -> None:
    """Run ``load``; on a configuration error print one line and exit with status 2."""
    with _config_guard():
        load()


@contextmanager
def _config_guard() -> Iterator[None]:
    try:
        yield
    except ConfigError as exc:
        sys.stderr.write(f"predictmarket: configuration error: {exc}\n")
        raise SystemExit(2) from None

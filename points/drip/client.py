"""HTTP client for DRIP (drip.re), the external points service some guilds use.

What it guarantees, and what it does not
----------------------------------------
* Reads (member search) are retried with exponential backoff and jitter on
  timeouts, connection errors, 429 (honouring ``Retry-After``) and 5xx.
* Writes (balance changes) are NOT idempotent at DRIP (no idempotency key is
  documented), so a write is retried only when DRIP certainly did not apply
  it: the connection was never made, or DRIP answered 429. A timeout or 5xx
  after the request was sent is *ambiguous*: it raises ``DripAmbiguous`` and
  the caller resolves it by reading the member's balance (see
  ``points.drip.writes``) instead of retrying blindly. So is a 2xx whose body
  cannot be read.
* A circuit breaker per realm (state in Redis when configured, so every
  process agrees) opens after repeated failures: calls then fail fast with
  ``DripUnavailable`` until DRIP answers again.

Base URL, API version and paths are configurable (``DRIP_API_BASE_URL``,
``DRIP_API_VERSION``).
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pybreaker
from django.conf import settings
from prometheus_client import Counter, Histogram

from predictmarket.errors import ExternalServiceError

logger = logging.getLogger(__name__)

REQUESTS = Counter(
    "predictmarket_drip_requests_total", "DRIP API requests", ["operation", "status"]
)
LATENCY = Histogram("predictmarket_drip_request_seconds", "DRIP API latency", ["operation"])
ERRORS = Counter("predictmarket_drip_errors_total", "DRIP API errors by kind", ["kind"])


class DripError(ExternalServiceError):
    code = "drip_error"
    default_message = "The points service (DRIP) could not complete that."

    def __init__(self, message: str | None = None, *, status: int | None = None, **details: Any):
        self.status = status
        super().__init__(message, status=status, **details)


class DripUnavailable(DripError):
    code = "drip_unavailable"
    default_message = "The points service (DRIP) is not answering; please try again shortly."


class DripAmbiguous(DripUnavailable):
    """A write was sent but no answer came back: DRIP may or may not have applied it."""

    code = "drip_ambiguous"


class DripRejected(DripError):
    """DRIP answered 4xx: retrying the same request would not help."""

    code = "drip_rejected"
    http_status = 502


@dataclass(frozen=True)
class DripSettings:
    realm_id: str
    api_key: str
    currency_id: str = ""


@dataclass(frozen=True)
class DripMember:
    drip_id: str
    balance: int


_breakers: dict[str, pybreaker.CircuitBreaker] = {}


def breaker_for(realm_id: str) -> pybreaker.CircuitBreaker:
    breaker = _breakers.get(realm_id)
    if breaker is None:
        storage = None
        if settings.REDIS_URL:
            import redis

            storage = pybreaker.CircuitRedisStorage(
                pybreaker.STATE_CLOSED,
                redis.Redis.from_url(settings.REDIS_URL),
                namespace=f"pm:drip:{realm_id}",
            )
        breaker = pybreaker.CircuitBreaker(
            fail_max=settings.DRIP_BREAKER_FAILURES,
            reset_timeout=settings.DRIP_BREAKER_RESET_SECONDS,
            # A refusal (4xx) or a 429 means DRIP is up: neither opens the breaker.
            exclude=[_is_healthy_refusal],
            state_storage=storage,
            name=f"drip:{realm_id}",
        )
        _breakers[realm_id] = breaker
    return breaker


def _is_healthy_refusal(exc: BaseException) -> bool:
    if isinstance(exc, DripRejected):
        return True
    return isinstance(exc, _Retry) and exc.error.status == 429


class DripClient:
    def __init__(
        self,
        config: DripSettings,
        *,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_attempts: int | None = None,
    ) -> None:
        self.config = config
        self.http = http or httpx.Client(
            base_url=settings.DRIP_API_BASE_URL,
            timeout=httpx.Timeout(settings.DRIP_TIMEOUT_SECONDS),
            headers={"Authorization": f"Bearer {config.api_key}"},
        )
        self.sleep = sleep
        self.max_attempts = max_attempts or settings.DRIP_MAX_ATTEMPTS
        self.breaker = breaker_for(config.realm_id)

    def _path(self, tail: str) -> str:
        return f"/api/{settings.DRIP_API_VERSION}/realms/{self.config.realm_id}/{tail}"

    # --------------------------------------------------------------------------
    def find_member(self, discord_id: int) -> DripMember:
        """The DRIP member for a Discord user, with their balance in our currency."""
        response = self._call(
            "search",
            "GET",
            self._path("members/search"),
            params={"type": "discord-id", "values": str(discord_id)},
            safe_to_retry=True,
        )
        members = response.get("data", response) if isinstance(response, dict) else response
        if isinstance(members, dict):
            members = members.get("members", [])
        if not members:
            raise DripRejected("This member has no DRIP account in this server yet.", status=404)
        member = members[0]
        return DripMember(drip_id=str(member["id"]), balance=self._balance_of(member))

    def adjust_balance(self, drip_id: str, amount: int) -> None:
        """Add ``amount`` (negative deducts). Raises ``DripAmbiguous`` if the outcome is unknown."""
        body: dict[str, Any] = {"amount": amount}
        if self.config.currency_id:
            body["currencyId"] = self.config.currency_id
        self._call(
            "adjust",
            "PATCH",
            self._path(f"members/{drip_id}/balance"),
            json=body,
            safe_to_retry=False,
        )

    def _balance_of(self, member: dict[str, Any]) -> int:
        for entry in member.get("balances", []):
            if not self.config.currency_id or entry.get("currencyId") == self.config.currency_id:
                return int(entry.get("balance", 0))
        return 0

    # --------------------------------------------------------------------------
    def _call(
        self, operation: str, method: str, path: str, *, safe_to_retry: bool, **kwargs: Any
    ) -> Any:
        attempt = 0
        while True:
            attempt += 1
            try:
                return self.breaker.call(
                    self._once, operation, method, path, safe_to_retry, **kwargs
                )
            except pybreaker.CircuitBreakerError:
                ERRORS.labels("breaker_open").inc()
                raise DripUnavailable(
                    "The points service (DRIP) is down; bets are paused. Please try again "
                    "in a minute."
                ) from None
            except _Retry as retry:
                if attempt >= self.max_attempts:
                    raise retry.error from None
                self.sleep(retry.delay(attempt))

    def _once(
        self, operation: str, method: str, path: str, safe_to_retry: bool, **kwargs: Any
    ) -> Any:
        started = time.perf_counter()
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.ConnectError as exc:
            # Never reached DRIP: safe to retry even a write.
            ERRORS.labels("connect").inc()
            REQUESTS.labels(operation, "connect_error").inc()
            raise _Retry(DripUnavailable(status=None), None) from exc
        except httpx.TransportError as exc:  # timeouts, resets after sending
            ERRORS.labels("timeout").inc()
            REQUESTS.labels(operation, "timeout").inc()
            if safe_to_retry:
                raise _Retry(DripUnavailable(), None) from exc
            raise DripAmbiguous("DRIP did not answer in time.") from exc
        finally:
            LATENCY.labels(operation).observe(time.perf_counter() - started)
        REQUESTS.labels(operation, str(response.status_code)).inc()
        if response.status_code == 429:
            ERRORS.labels("429").inc()
            retry_after = _retry_after(response)
            # A 429 was refused, not applied: retrying a write is safe. It does not
            # count against the breaker (DRIP is up, just busy): _Retry is excluded.
            raise _Retry(
                DripUnavailable(
                    "DRIP is busy; please try again shortly.", status=429, retry_after=retry_after
                ),
                retry_after,
            )
        if response.status_code >= 500:
            ERRORS.labels("5xx").inc()
            if safe_to_retry:
                raise _Retry(DripUnavailable(status=response.status_code), None)
            raise DripAmbiguous(
                f"DRIP answered {response.status_code}.", status=response.status_code
            )
        if response.status_code >= 400:
            ERRORS.labels(str(response.status_code)).inc()
            raise DripRejected(
                _rejection_message(response),
                status=response.status_code,
                drip_error=_error_field(response),
            )
        if not response.content:
            return {}
        try:
            return response.json()
        except ValueError as exc:
            # A 2xx we cannot read (a proxy's page, a truncated body). For a write the
            # outcome is unknown; a read is simply asked again.
            ERRORS.labels("unreadable").inc()
            if safe_to_retry:
                raise _Retry(DripUnavailable("DRIP's answer could not be read."), None) from exc
            raise DripAmbiguous("DRIP's answer could not be read.") from exc


class _Retry(Exception):
    """Internal: this attempt failed in a way that a later attempt may not."""

    def __init__(self, error: DripError, retry_after: float | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.retry_after = retry_after

    def delay(self, attempt: int) -> float:
        if self.retry_after is not None:
            return min(self.retry_after, settings.DRIP_MAX_RETRY_AFTER_SECONDS)
        # Exponential backoff with full jitter, capped.
        return random.uniform(0, min(8.0, 0.25 * 2 ** (attempt - 1)))


def _retry_after(response: httpx.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def _error_field(response: httpx.Response) -> str:
    try:
        return str(response.json().get("error", ""))[:100]
    except ValueError:
        return ""


def _rejection_message(response: httpx.Response) -> str:
    if response.status_code in (401, 403):
        return "This server's DRIP connection was refused (check the API key and realm)."
    if response.status_code == 404:
        return "This member has no DRIP account in this server yet."
    if response.status_code == 422:
        return "DRIP refused the change (not enough points there?)."
    return f"DRIP refused the request ({response.status_code})."

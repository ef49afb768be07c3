"""Health probes answer with the shape operators and load balancers expect."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db.utils import ConnectionHandler
from django.test import Client

from predictmarket import health


@pytest.fixture
def client() -> Client:
    return Client()


def test_live_answers_while_the_process_runs(client: Client) -> None:
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.json() == {"status": "pass"}


@pytest.mark.django_db
@pytest.mark.usefixtures("background_alive")
def test_ready_is_200_when_every_check_passes(client: Client) -> None:
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 200, body
    assert body["status"] == "pass"
    names = [check["name"] for check in body["checks"]]
    assert names[:3] == ["database", "cache", "broker"]
    for check in body["checks"]:
        assert set(check) == {"name", "status", "response_time", "details"}
        assert check["status"] == "pass"
        assert check["response_time"] >= 0
    assert body["timestamp"].endswith("+00:00")


@pytest.mark.postgres
@pytest.mark.django_db
@pytest.mark.usefixtures("background_alive")
def test_ready_is_503_naming_the_database_when_it_is_unreachable(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    unreachable = dict(settings.DATABASES["default"])
    unreachable.update(PORT=1, OPTIONS={"connect_timeout": 2})
    monkeypatch.setattr(health, "connections", ConnectionHandler({"default": unreachable}))
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["status"] == "fail"
    assert body["failing"] == ["database"]
    database = next(check for check in body["checks"] if check["name"] == "database")
    assert database["status"] == "fail"
    assert "OperationalError" in database["details"]["error"]
    assert settings.DATABASES["default"].get("PASSWORD", "") in ("", None) or (
        settings.DATABASES["default"]["PASSWORD"] not in response.content.decode()
    )


@pytest.mark.redis
@pytest.mark.django_db
@pytest.mark.usefixtures("background_alive")
def test_ready_is_503_naming_the_cache_when_it_is_unreachable(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.core.cache import CacheHandler

    unreachable = {
        "default": {
            **settings.CACHES["default"],
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    monkeypatch.setattr(health, "caches", CacheHandler(unreachable))
    response = client.get("/health/ready")
    body = response.json()
    assert response.status_code == 503
    assert body["failing"] == ["cache"]
    cache = next(check for check in body["checks"] if check["name"] == "cache")
    assert "ConnectionError" in cache["details"]["error"]


@pytest.mark.django_db
@pytest.mark.usefixtures("background_alive")
def test_ready_reports_a_degraded_check_without_failing(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    checks = dict(health._checks)
    checks["external"] = lambda: ("warn", {"reason": "down for maintenance"})
    monkeypatch.setattr(health, "_checks", checks)
    response = client.get("/health/ready")
    assert response.status_code == 200
    external = next(check for check in response.json()["checks"] if check["name"] == "external")
    assert external["status"] == "warn"


def test_every_response_carries_a_request_id(client: Client) -> None:
    response = client.get("/health/live", HTTP_X_REQUEST_ID="abc-123")
    assert response["X-Request-ID"] == "abc-123"
    forged = client.get("/health/live", HTTP_X_REQUEST_ID="bad id\nINFO forged")
    assert forged["X-Request-ID"] != "bad id\nINFO forged"
    assert len(forged["X-Request-ID"]) == 32

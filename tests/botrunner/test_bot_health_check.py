"""The web's readiness check reports the bot: down is a warning, not a failure."""

from __future__ import annotations

import time

import pytest
from django.test import Client, override_settings

from botrunner.heartbeat import check_bot, heartbeat_write


def test_without_a_token_the_bot_is_not_expected() -> None:
    with override_settings(DISCORD_TOKEN=""):
        assert check_bot() == {"configured": False}


def test_a_fresh_heartbeat_passes() -> None:
    heartbeat_write()
    with override_settings(DISCORD_TOKEN="configured"):
        result = check_bot()
    assert isinstance(result, dict) and result["heartbeat_age_seconds"] < 5


@pytest.mark.parametrize("age", [None, 91, 3600])
def test_a_missing_or_stale_heartbeat_warns_that_the_bot_is_down(age: int | None) -> None:
    if age is not None:
        heartbeat_write(time.time() - age)
    with override_settings(DISCORD_TOKEN="configured"):
        status, details = check_bot()
    assert status == "warn"
    assert "the bot is down" in str(details["error"])


@pytest.mark.django_db
@pytest.mark.usefixtures("background_alive")
def test_a_down_bot_keeps_the_web_ready() -> None:
    with override_settings(DISCORD_TOKEN="configured"):
        response = Client().get("/health/ready")
    bot = next(check for check in response.json()["checks"] if check["name"] == "bot")
    assert bot["status"] == "warn"
    assert response.status_code == 200

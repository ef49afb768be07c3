"""The last line: a number too large that slipped past a service's checks is a 400, not a 500.

Services bound their inputs (amounts at most ``MAX_AMOUNT``); these check the
one place each channel maps errors, with the exception PostgreSQL really
raises for an overflowing BIGINT.
"""

from __future__ import annotations

import asyncio

import pytest
from django.db import DataError, connection, transaction

from botrunner.invocation import Ack, run
from predictmarket.api.errors import api_exception_handler
from tests.botrunner.fakes import FakeGuild, FakeInteraction, FakeUser

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]


def _bigint_overflow() -> DataError:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SELECT 9223372036854775807::bigint + 1")
    except DataError as exc:
        return exc
    raise AssertionError("PostgreSQL did not overflow")


def test_the_api_answers_an_overflow_with_a_400_in_the_envelope() -> None:
    response = api_exception_handler(_bigint_overflow(), {})
    assert response is not None
    assert response.status_code == 400
    assert response.data["error"]["code"] == "value_out_of_range"
    assert "too large" in response.data["error"]["message"]


def test_the_bot_answers_an_overflow_with_a_message_not_an_error_id() -> None:
    error = _bigint_overflow()

    async def work(inv: object) -> None:
        raise error

    interaction = FakeInteraction(
        user=FakeUser(id=1, display_name="x"), guild=FakeGuild(id=100_000_000_000_000_777)
    )
    asyncio.run(run(interaction, "daily", work, Ack.EPHEMERAL))
    assert interaction.last.ephemeral
    assert "too large" in interaction.last.text
    assert "Error id" not in interaction.last.text

"""Celery tasks of the markets app."""

from __future__ import annotations

from celery import shared_task

from markets.closing_soon import markets_announce_closing_soon
from markets.services import markets_close_due, markets_remind_unresolved


@shared_task(name="markets.close_due_markets")
def close_due_markets() -> int:
    return len(markets_close_due())


@shared_task(name="markets.remind_moderators")
def remind_moderators() -> int:
    return len(markets_remind_unresolved())


@shared_task(name="markets.announce_closing_soon")
def announce_closing_soon() -> int:
    return len(markets_announce_closing_soon())

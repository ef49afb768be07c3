"""predictmarket: prediction markets for Discord communities."""

from __future__ import annotations

from predictmarket.celery import app as celery_app

__all__ = ["celery_app"]

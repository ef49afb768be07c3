"""Signals through which the markets app asks higher apps to act, without importing them.

``market_decided`` is sent inside the transaction that resolved or cancelled a
market; the betting app schedules settlement or refund on commit.
"""

from __future__ import annotations

from django.dispatch import Signal

# kwargs: market_id (int), status (MarketStatus value)
market_decided = Signal()

# Sent inside the transaction that decided a correction of a decided market;
# kwargs: market_id (int), correction_id (int). The betting app reverses the
# earlier ending and pays the new one on commit.
market_corrected = Signal()

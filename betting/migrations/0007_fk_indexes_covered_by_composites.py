"""Indexes every trade writes and no query needs.

The plain indexes on trade.market_id and trade.member_id ((market, -id) and
(member, -id) lead with them), on position.market_id ((market, outcome,
-shares) and position_flows_idx) and position.member_id (position_unique),
and the trade's idempotency key's LIKE index (keys are only ever compared
whole). Each is one more index entry per trade, written under the market lock.
"""

from django.db import migrations

from predictmarket.migration_ops import drop_pattern_index, unindex_foreign_key


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY (predictmarket.migration_ops)

    dependencies = [
        ("betting", "0006_seasons_and_period_posts"),
        ("markets", "0012_market_thread_and_closing_soon"),
        ("points", "0013_fk_indexes_covered_by_composites"),
    ]

    operations = [
        unindex_foreign_key(
            "position",
            "market",
            to="markets.market",
            related_name="positions",
            table="betting_position",
            column="market_id",
        ),
        unindex_foreign_key(
            "position",
            "member",
            to="points.member",
            related_name="positions",
            table="betting_position",
            column="member_id",
        ),
        unindex_foreign_key(
            "trade",
            "market",
            to="markets.market",
            related_name="trades",
            table="betting_trade",
            column="market_id",
        ),
        unindex_foreign_key(
            "trade",
            "member",
            to="points.member",
            related_name="trades",
            table="betting_trade",
            column="member_id",
        ),
        drop_pattern_index("betting_trade", "idempotency_key"),
    ]

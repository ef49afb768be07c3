"""PostgreSQL: ``betting_trade_write(...)``, a trade's writes in one named place.

``betting.trade_writes`` calls it with named arguments, under the market lock
(``betting.market_lock``), in the one round trip that also carries the
COMMIT. It posts the points (``points_ledger_post``, points 0008) and writes
the pools, the market row, the trade, the position and the outbox event;
it returns the posting's transaction, the trade's id, the moved accounts'
balances and the market row's values it updated.

When the idempotency key was taken while this request waited for the lock
(a double click), it writes nothing and returns a NULL ``transaction_id``:
the caller answers with the original. Everything else that would make the
trade wrong raises a check violation naming the rule (``predictmarket_require``
style), so a trade that returns is complete and may be committed with it:

* ``trade_member_not_frozen``: a freeze committed before the market lock was
  taken (the lock read locked the member's account, the lock a freeze takes;
  this function's statements run on later snapshots, so they see it);
* ``trade_ledger_legs_refused``: a leg did not move (an overdraft);
* ``trade_rows_written``: a pool, the market row or the position is missing
  (the market lock rules it out).

The ORM path in ``betting.trade_writes._write_portable`` (SQLite) is the
executable specification of the same rows; ``tests/betting/
test_both_trade_paths_leave_the_same_rows.py`` runs both and compares them.
"""

from __future__ import annotations

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION betting_trade_write(
    -- the trade
    p_market_id bigint,
    p_member_id bigint,
    p_outcome_id bigint,
    p_side text,
    p_points bigint,
    p_shares numeric,
    p_average_price numeric,
    p_fee numeric,
    p_probabilities_before jsonb,
    p_probabilities_after jsonb,
    p_idempotency_key text,
    p_created_at timestamptz,
    -- the market maker's pools after it, one per outcome
    p_outcome_ids bigint[],
    p_pools numeric[],
    -- its posting (points.ledger.Posting.arguments())
    p_guild_id bigint,
    p_kind text,
    p_actor text,
    p_memo text,
    p_posting_key text,
    p_fingerprint text,
    p_accounts bigint[],
    p_amounts bigint[],
    -- the outbox event's payload (the trade's id is added)
    p_event jsonb,
    OUT transaction_id bigint,
    OUT trade_id bigint,
    OUT accounts bigint[],
    OUT balances bigint[],
    OUT market_volume bigint
) AS $$
DECLARE
    written integer;
    buying boolean := p_side = 'buy';
BEGIN
    SELECT post.transaction_id, post.accounts, post.balances
    INTO transaction_id, accounts, balances
    FROM points_ledger_post(
        p_guild_id => p_guild_id,
        p_kind => p_kind,
        p_actor => p_actor,
        p_memo => p_memo,
        p_idempotency_key => p_posting_key,
        p_fingerprint => p_fingerprint,
        p_created_at => p_created_at,
        p_accounts => p_accounts,
        p_amounts => p_amounts
    ) post;
    IF transaction_id IS NULL THEN
        RETURN;  -- committed by a twin request meanwhile: nothing written
    END IF;
    IF (SELECT m.is_frozen FROM points_member m WHERE m.id = p_member_id) THEN
        RAISE EXCEPTION 'requirement trade_member_not_frozen does not hold'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'trade_member_not_frozen';
    END IF;
    IF cardinality(accounts) <> cardinality(p_accounts) THEN
        RAISE EXCEPTION 'requirement trade_ledger_legs_refused does not hold'
            USING ERRCODE = 'check_violation', CONSTRAINT = 'trade_ledger_legs_refused';
    END IF;

    UPDATE markets_outcome o SET pool = pools.pool
    FROM unnest(p_outcome_ids, p_pools) AS pools (id, pool)
    WHERE o.id = pools.id AND o.market_id = p_market_id;
    GET DIAGNOSTICS written = ROW_COUNT;
    PERFORM predictmarket_require(written = cardinality(p_outcome_ids), 'trade_rows_written');

    UPDATE markets_market SET volume = volume + CASE WHEN buying THEN p_points ELSE 0 END
    WHERE id = p_market_id
    RETURNING volume INTO market_volume;
    PERFORM predictmarket_require(market_volume IS NOT NULL, 'trade_rows_written');

    INSERT INTO betting_trade (market_id, member_id, outcome_id, side, points, shares,
        average_price, fee, probabilities_before, probabilities_after, idempotency_key,
        ledger_transaction_id, created_at)
    VALUES (p_market_id, p_member_id, p_outcome_id, p_side, p_points, p_shares,
        p_average_price, p_fee, p_probabilities_before, p_probabilities_after,
        p_idempotency_key, transaction_id, p_created_at)
    RETURNING id INTO trade_id;

    IF buying THEN
        INSERT INTO betting_position AS p (market_id, member_id, outcome_id, shares,
            points_spent, points_received, updated_at)
        VALUES (p_market_id, p_member_id, p_outcome_id, p_shares, p_points, 0, p_created_at)
        ON CONFLICT (member_id, outcome_id) DO UPDATE SET
            shares = p.shares + excluded.shares,
            points_spent = p.points_spent + excluded.points_spent,
            updated_at = excluded.updated_at;
    ELSE
        UPDATE betting_position SET shares = shares - p_shares,
            points_received = points_received + p_points, updated_at = p_created_at
        WHERE member_id = p_member_id AND outcome_id = p_outcome_id;
    END IF;
    GET DIAGNOSTICS written = ROW_COUNT;
    PERFORM predictmarket_require(written = 1, 'trade_rows_written');

    INSERT INTO core_outboxevent (created_at, guild_id, kind, aggregate_type, aggregate_id,
        payload)
    VALUES (p_created_at, p_guild_id, 'market.trade', 'market', p_market_id::text,
        jsonb_build_object('trade_id', trade_id) || p_event);
END;
$$ LANGUAGE plpgsql VOLATILE;
"""

DROP = """
DROP FUNCTION IF EXISTS betting_trade_write(
    bigint, bigint, bigint, text, bigint, numeric, numeric, numeric, jsonb, jsonb, text,
    timestamptz, bigint[], numeric[], bigint, text, text, text, text, text, bigint[], bigint[],
    jsonb);
"""


def _on_postgres(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("betting", "0003_leaderboard_indexes"),
        ("core", "0002_require_function"),
        ("points", "0009_ledger_post_function"),
    ]

    operations = [migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))]

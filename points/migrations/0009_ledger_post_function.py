"""PostgreSQL: ``points_ledger_post(...)``, the one place that writes a posting.

``points.ledger.posting_write`` calls it for a posting on its own, and
``betting_trade_write`` (betting 0003) calls it for a trade's points: the
rules are written once. It claims the idempotency key (``ON CONFLICT DO
NOTHING``: a concurrent post with the same key waits for the first to commit,
then finds it taken), locks the legs' accounts in primary-key order (so posts
cannot deadlock), and moves the points only if every account is in the guild;
a leg that would overdraw an account that may not go negative (every kind but
``MAY_GO_NEGATIVE``: house and clearing) does not move. It returns the new
transaction's id (NULL when the key was taken: nothing written) and the
accounts that moved with their balances after; a leg missing from them was
refused, and the caller raises (rolling back what was written).

SQLite (the embedded default) runs ``points.ledger._post_portable`` instead,
the executable specification of the same rules.
"""

from __future__ import annotations

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION points_ledger_post(
    p_guild_id bigint,
    p_kind text,
    p_actor text,
    p_memo text,
    p_idempotency_key text,
    p_fingerprint text,
    p_created_at timestamptz,
    p_accounts bigint[],
    p_amounts bigint[],
    OUT transaction_id bigint,
    OUT accounts bigint[],
    OUT balances bigint[]
) AS $$
DECLARE
    in_guild integer;
BEGIN
    INSERT INTO points_ledgertransaction
        (guild_id, kind, actor, memo, idempotency_key, fingerprint, created_at)
    VALUES
        (p_guild_id, p_kind, p_actor, p_memo, p_idempotency_key, p_fingerprint, p_created_at)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING id INTO transaction_id;
    accounts := '{}';
    balances := '{}';
    IF transaction_id IS NULL THEN
        RETURN;  -- the key is taken: a replay
    END IF;
    SELECT count(*) FILTER (WHERE locked.guild_id = p_guild_id) INTO in_guild
    FROM (
        SELECT a.guild_id FROM points_account a
        WHERE a.id = ANY(p_accounts) ORDER BY a.id FOR UPDATE
    ) locked;
    IF in_guild <> cardinality(p_accounts) THEN
        RETURN;  -- an account outside the guild: nothing moves
    END IF;
    WITH moved AS (
        UPDATE points_account a SET balance = a.balance + legs.amount
        FROM unnest(p_accounts, p_amounts) AS legs (account_id, amount)
        WHERE a.id = legs.account_id
          AND (a.kind IN ('house', 'clearing') OR a.balance + legs.amount >= 0)
        RETURNING a.id, a.balance, legs.amount
    ),
    entries AS (
        INSERT INTO points_ledgerentry (transaction_id, account_id, amount, balance_after)
        SELECT points_ledger_post.transaction_id, moved.id, moved.amount, moved.balance
        FROM moved
        RETURNING account_id, balance_after
    )
    SELECT coalesce(array_agg(account_id ORDER BY account_id), '{}'),
           coalesce(array_agg(balance_after ORDER BY account_id), '{}')
    INTO accounts, balances
    FROM entries;
END;
$$ LANGUAGE plpgsql VOLATILE;
"""

DROP = (
    "DROP FUNCTION IF EXISTS points_ledger_post("
    "bigint, text, text, text, text, text, timestamptz, bigint[], bigint[]);"
)


def _on_postgres(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("points", "0008_guild_correction_window")]

    operations = [migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))]

"""Indexes every posting writes and no query needs.

The plain indexes on a foreign key that a composite index already leads with
(account.guild_id: account_leaderboard_idx; ledgerentry.account_id:
entry_account_history_idx; ledgertransaction.guild_id: (guild, created_at)),
and the idempotency key's LIKE index (the one prefix match on these keys,
betting.unwind's look-up of a market's refunds, starts from the escrow
account's entries: entry_account_history_idx).
A posting rewrites its accounts' rows (balance is indexed, so never in place)
and inserts a transaction and its entries: each index is one more entry per
row, written while a trade holds its market's lock.
"""

from django.db import migrations

from predictmarket.migration_ops import drop_pattern_index, unindex_foreign_key


class Migration(migrations.Migration):
    atomic = False  # DROP INDEX CONCURRENTLY (predictmarket.migration_ops)

    dependencies = [("points", "0012_guild_announcements_and_threads")]

    operations = [
        unindex_foreign_key(
            "account",
            "guild",
            to="points.guild",
            related_name="accounts",
            table="points_account",
            column="guild_id",
        ),
        unindex_foreign_key(
            "ledgerentry",
            "account",
            to="points.account",
            related_name="entries",
            table="points_ledgerentry",
            column="account_id",
        ),
        unindex_foreign_key(
            "ledgertransaction",
            "guild",
            to="points.guild",
            related_name="transactions",
            table="points_ledgertransaction",
            column="guild_id",
        ),
        drop_pattern_index("points_ledgertransaction", "idempotency_key"),
    ]

"""PostgreSQL-only triggers that hold the ledger's invariants in the database.

* ``ledger_entries_balanced``: a deferred constraint trigger checked at commit;
  it rejects any transaction whose entries do not sum to zero, however they
  were written (service, raw SQL, a bad migration).
* ``ledger_entries_immutable``: entries are never updated or deleted.

SQLite (the embedded default) has no deferred triggers; there the service's
own checks hold these rules.
"""

from __future__ import annotations

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION points_check_entries_balanced() RETURNS trigger AS $$
DECLARE
    total numeric;
    legs integer;
BEGIN
    SELECT COALESCE(SUM(amount), 0), COUNT(*) INTO total, legs
      FROM points_ledgerentry WHERE transaction_id = NEW.transaction_id;
    IF total <> 0 OR legs < 2 THEN
        RAISE EXCEPTION 'ledger transaction % is unbalanced: % entries sum to %',
            NEW.transaction_id, legs, total
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER ledger_entries_balanced
    AFTER INSERT ON points_ledgerentry
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION points_check_entries_balanced();

CREATE OR REPLACE FUNCTION points_refuse_entry_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'ledger entries are immutable; post a correcting transaction'
        USING ERRCODE = 'restrict_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER ledger_entries_immutable
    BEFORE UPDATE OR DELETE ON points_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION points_refuse_entry_change();
"""

DROP = """
DROP TRIGGER IF EXISTS ledger_entries_immutable ON points_ledgerentry;
DROP FUNCTION IF EXISTS points_refuse_entry_change();
DROP TRIGGER IF EXISTS ledger_entries_balanced ON points_ledgerentry;
DROP FUNCTION IF EXISTS points_check_entries_balanced();
"""


def _on_postgres(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("points", "0001_initial")]

    operations = [migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))]

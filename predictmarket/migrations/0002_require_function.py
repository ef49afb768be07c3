"""PostgreSQL: ``predictmarket_require(ok, name)``, an assertion usable inside a statement.

A statement that writes several tables at once (a trade: the ledger posting,
pools, trade, position…) states what must hold afterwards with it; when that
is false the whole statement fails with a check violation naming ``name``, so
nothing it wrote can be committed, even when the COMMIT was sent with it in
the same round trip (``predictmarket.db.fetch_all_prepared(commit=True)``).
"""

from __future__ import annotations

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION predictmarket_require(ok boolean, name text) RETURNS boolean AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'requirement % does not hold', name
            USING ERRCODE = 'check_violation', CONSTRAINT = name;
    END IF;
    RETURN true;
END;
$$ LANGUAGE plpgsql VOLATILE;
"""

DROP = "DROP FUNCTION IF EXISTS predictmarket_require(boolean, text);"


def _on_postgres(sql: str):  # type: ignore[no-untyped-def]
    def run(apps, schema_editor):  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("core", "0001_audit_log_and_outbox")]

    operations = [migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))]

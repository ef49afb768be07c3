"""Operations migrations share.

``drop_pattern_index``: Django gives every unique or indexed ``CharField``
on PostgreSQL a second index with ``varchar_pattern_ops`` (the ``…_like``
index), for ``LIKE 'prefix%'`` queries. On a column the application only
ever compares whole (an idempotency key, an event kind), it is one more
index entry for every row inserted, and nothing reads it.
"""

from __future__ import annotations

from django.db import migrations


def drop_pattern_index(table: str, column: str) -> migrations.RunPython:
    """Drop ``table.column``'s pattern index on PostgreSQL (recreated on reverse)."""

    def names(schema_editor) -> list[str]:  # type: ignore[no-untyped-def]
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename = %s AND indexdef LIKE %s",
                [table, f"%({column} varchar_pattern_ops)"],
            )
            return [name for (name,) in cursor.fetchall()]

    def forward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql":
            return
        for name in names(schema_editor):
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    def backward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql" or names(schema_editor):
            return
        name = schema_editor._create_index_name(table, [column], suffix="_like")
        schema_editor.execute(
            f"CREATE INDEX {schema_editor.quote_name(name)} ON {schema_editor.quote_name(table)}"
            f" ({schema_editor.quote_name(column)} varchar_pattern_ops)"
        )

    return migrations.RunPython(forward, backward)


def drop_plain_index(table: str, column: str) -> migrations.RunPython:
    """Drop the plain index on ``table.column`` alone on PostgreSQL (recreated on reverse).

    For a foreign key whose index a composite index leads with. Use it as the
    database side of ``SeparateDatabaseAndState`` beside the ``AlterField`` to
    ``db_index=False``: Django's own AlterField drops every non-unique btree
    index on the column it does not know from ``Meta.indexes``, a partial
    unique index made by a ``UniqueConstraint(condition=…)`` included (a
    guild's one house account). This drops only the one with no predicate.
    """

    def names(schema_editor) -> list[str]:  # type: ignore[no-untyped-def]
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename = %s AND indexdef ~ %s",
                [table, rf"^CREATE INDEX \S+ ON \S+ USING btree \({column}\)$"],
            )
            return [name for (name,) in cursor.fetchall()]

    def forward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql":
            return
        for name in names(schema_editor):
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")

    def backward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql" or names(schema_editor):
            return
        name = schema_editor._create_index_name(table, [column])
        schema_editor.execute(
            f"CREATE INDEX {schema_editor.quote_name(name)} ON {schema_editor.quote_name(table)}"
            f" ({schema_editor.quote_name(column)})"
        )

    return migrations.RunPython(forward, backward)


def unindex_foreign_key(
    model_name: str, name: str, *, to: str, related_name: str, table: str, column: str
) -> migrations.SeparateDatabaseAndState:
    """``AlterField`` a PROTECT foreign key to ``db_index=False``, dropping only its plain index."""
    from django.db import models

    return migrations.SeparateDatabaseAndState(
        state_operations=[
            migrations.AlterField(
                model_name=model_name,
                name=name,
                field=models.ForeignKey(
                    db_index=False,
                    on_delete=models.PROTECT,
                    related_name=related_name,
                    to=to,
                ),
            )
        ],
        database_operations=[drop_plain_index(table, column)],
    )

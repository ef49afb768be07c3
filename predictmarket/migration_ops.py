"""Operations migrations share.

``drop_pattern_index``: Django gives every unique or indexed ``CharField``
on PostgreSQL a second index with ``varchar_pattern_ops`` (the ``…_like``
index), for ``LIKE 'prefix%'`` queries. On a column no query matches
by prefix on its own (an idempotency key, an event kind), it is one more
index entry for every row inserted, and nothing reads it.

The indexes are dropped (and, in reverse, made) ``CONCURRENTLY``: a plain
``DROP INDEX`` takes its table's exclusive lock until the migration commits,
so a migration dropping indexes on three ledger tables would hold up every
posting meanwhile, and could deadlock with one. Migrations using these
operations are ``atomic = False`` (PostgreSQL runs ``CONCURRENTLY`` outside
a transaction only).
"""

from __future__ import annotations

from django.db import migrations


def drop_pattern_index(table: str, column: str) -> migrations.RunPython:
    """Drop ``table.column``'s pattern index on PostgreSQL (recreated on reverse)."""
    return _index_dropper(
        table, column, definition=rf"\({column} varchar_pattern_ops\)$", suffix="_like"
    )


def drop_plain_index(table: str, column: str) -> migrations.RunPython:
    """Drop the plain index on ``table.column`` alone on PostgreSQL (recreated on reverse).

    For a foreign key whose index a composite index leads with. Use it as the
    database side of ``SeparateDatabaseAndState`` beside the ``AlterField`` to
    ``db_index=False``: Django's own AlterField drops every non-unique btree
    index on the column it does not know from ``Meta.indexes``, a partial
    unique index made by a ``UniqueConstraint(condition=…)`` included (a
    guild's one house account). This drops only the one with no predicate.
    """
    return _index_dropper(
        table, column, definition=rf"^CREATE INDEX \S+ ON \S+ USING btree \({column}\)$", suffix=""
    )


def _index_dropper(
    table: str, column: str, *, definition: str, suffix: str
) -> migrations.RunPython:
    """Drop ``table``'s indexes whose definition matches the regex ``definition``; reverse: one."""
    opclass = " varchar_pattern_ops" if suffix == "_like" else ""

    def names(schema_editor) -> list[str]:  # type: ignore[no-untyped-def]
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema()"
                " AND tablename = %s AND indexdef ~ %s",
                [table, definition],
            )
            return [name for (name,) in cursor.fetchall()]

    def forward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql":
            return
        for name in names(schema_editor):
            quoted = schema_editor.quote_name(name)
            schema_editor.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {quoted}")

    def backward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
        if schema_editor.connection.vendor != "postgresql" or names(schema_editor):
            return
        quote = schema_editor.quote_name
        name = schema_editor._create_index_name(table, [column], suffix=suffix)
        schema_editor.execute(
            f"CREATE INDEX CONCURRENTLY {quote(name)} ON {quote(table)} ({quote(column)}{opclass})"
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

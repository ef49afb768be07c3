"""Hot-path SQL on PostgreSQL with server-side binding and prepared statements.

Django's psycopg backend binds parameters on the client (``ClientCursor``), so
PostgreSQL parses and plans every statement again. The few large statements
run while a market row is locked (see ``points.ledger`` and
``betting.trade_writes``) go through a server-side-binding cursor instead:
psycopg prepares a statement after it has run ``prepare_threshold`` times (5
by default) and then only sends parameters. It runs on Django's own connection,
inside Django's transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
from django.db import connection
from django.db.models import Model


def fetch_all_prepared(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    connection.ensure_connection()
    with psycopg.Cursor(connection.connection) as cursor:
        cursor.execute(sql, params, prepare=None)
        return cursor.fetchall()


def model_from_row(model: type[Model], attnames: Sequence[str], values: Sequence[Any]) -> Model:
    """Build a model instance from a hand-written query's row, as the ORM would.

    The database's converters run first (SQLite returns naive datetimes and
    floats for decimals; these turn them into aware datetimes and ``Decimal``).
    """
    fields = {f.attname: f for f in model._meta.concrete_fields}
    converted = []
    for name, value in zip(attnames, values, strict=True):
        field = fields[name]
        column = field.get_col(model._meta.db_table)
        for converter in connection.ops.get_db_converters(column) + field.get_db_converters(
            connection
        ):
            value = converter(value, column, connection)
        converted.append(value)
    return model.from_db(connection.alias, list(attnames), converted)


def fetch_all(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """A hand-written read: prepared on PostgreSQL, Django's cursor elsewhere (SQLite)."""
    if connection.vendor == "postgresql":
        return fetch_all_prepared(sql, params)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()

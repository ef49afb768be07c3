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

import functools
import itertools
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import connection
from django.db.models import Model
from psycopg.types.numeric import Int8Dumper


def fetch_all_prepared(
    sql: str, params: Sequence[Any], *, commit: bool = False, prepare: bool | None = None
) -> list[tuple[Any, ...]]:
    """Run one statement with server-side binding, prepared from its fifth run.

    ``prepare=True`` prepares it on its first run: for the statements every
    trade runs, since psycopg forgets every prepared statement at each
    ROLLBACK (a refused bet) and would otherwise re-plan them five times over.
    Integers are always sent as ``int8``: psycopg picks int2/int4/int8 by
    value, and each mix of types would be a statement prepared apart.

    ``commit=True`` says this is the last statement of the caller's
    ``transaction.atomic()`` block: when that block is the outermost one, the
    COMMIT is sent in the same round trip (psycopg's pipeline mode) instead
    of one more after it; Django's own commit at the end of the block then
    finds nothing to do. Row locks are released one round trip sooner, which
    is what a hot market's throughput depends on. The statement must fail
    (raise) rather than return anything the caller would refuse, since there
    is no rolling back once it returns; ``predictmarket_require`` (migration
    core 0002) is how a statement states its own conditions. Inside an outer
    transaction or a savepoint the COMMIT is left to Django as usual.
    """
    connection.ensure_connection()
    conn = connection.connection
    committing = commit and _is_outermost_atomic_block()
    if (recording := _RECORDING.get()) is not None:
        recording.append(Statement(sql, tuple(params), committing))
    with (_raw_cursor_class or psycopg.RawCursor)(conn) as cursor:
        cursor.adapters.register_dumper(int, Int8Dumper)
        sql = _native_placeholders(sql)
        if committing:
            with conn.pipeline():
                cursor.execute(sql, params, prepare=prepare)
                conn.commit()  # sends COMMIT and syncs: one round trip for both
        else:
            cursor.execute(sql, params, prepare=prepare)
        return cursor.fetchall()


# A traced RawCursor while tracing is on (``predictmarket.tracing``); None: psycopg's own.
_raw_cursor_class: type[psycopg.RawCursor] | None = None


def use_raw_cursor_class(cursor_class: type[psycopg.RawCursor] | None) -> None:
    global _raw_cursor_class
    _raw_cursor_class = cursor_class


@dataclass(frozen=True)
class Statement:
    sql: str  # with %s placeholders
    params: tuple[Any, ...]
    committed: bool  # the COMMIT travelled with it


_RECORDING: ContextVar[list[Statement] | None] = ContextVar("pm_statements", default=None)


@contextmanager
def statements_recorded() -> Iterator[list[Statement]]:
    """Record the hand-written statements run in this context (tests, benchmarks).

    Shows how many round trips an operation makes, and lets ``bench/bets.py``
    replay a bet's exact statements with pgbench.
    """
    recording: list[Statement] = []
    token = _RECORDING.set(recording)
    try:
        yield recording
    finally:
        _RECORDING.reset(token)


@functools.lru_cache(maxsize=256)
def _native_placeholders(sql: str) -> str:
    """``%s`` → ``$1, $2…`` once per statement text (``%%`` is a literal ``%``, as for psycopg).

    psycopg converts ``%s`` queries itself but caches the conversion only for
    statements under 4 kB; the trade statement is longer, and converting it
    cost about half a millisecond per bet, with the market locked. A
    ``RawCursor`` takes PostgreSQL's own placeholders as they are.
    """
    counter = itertools.count(1)
    return _PLACEHOLDER.sub(lambda m: "%" if m.group() == "%%" else f"${next(counter)}", sql)


_PLACEHOLDER = re.compile(r"%s|%%")


def _is_outermost_atomic_block() -> bool:
    return (
        connection.in_atomic_block
        and len(connection.atomic_blocks) == 1
        and not connection.savepoint_ids
        and not connection.needs_rollback
        and not connection.get_autocommit()
    )


@functools.cache
def model_columns(model: type[Model]) -> tuple[str, ...]:
    """The columns a hand-written query selects for ``model`` (all concrete fields)."""
    return tuple(f.attname for f in model._meta.concrete_fields)


def select_list(alias: str, model: type[Model]) -> str:
    """``alias."column", …`` for ``model_columns`` (quoted: "index" is a keyword)."""
    return ", ".join(f'{alias}."{column}"' for column in model_columns(model))


def models_from_row(
    row: Sequence[Any], models: Sequence[type[Model]]
) -> tuple[list[Any], Sequence[Any]]:
    """Split a row selected with ``select_list`` for each of ``models``, in order.

    Returns the instances (None for a model whose primary key is NULL, as an
    outer join leaves it) and what the row holds after them.
    """
    instances = []
    start = 0
    for model in models:
        columns = model_columns(model)
        values = row[start : start + len(columns)]
        pk = values[columns.index(model._meta.pk.attname)]
        instances.append(None if pk is None else model_from_row(model, columns, values))
        start += len(columns)
    return instances, row[start:]


def model_from_row(model: type[Model], attnames: Sequence[str], values: Sequence[Any]) -> Model:
    """Build a model instance from a hand-written query's row, as the ORM would.

    The database's converters run first (SQLite returns naive datetimes and
    floats for decimals; these turn them into aware datetimes and ``Decimal``).
    """
    converted = [
        _apply(converters, column, value)
        for (column, converters), value in zip(
            _converters(model, tuple(attnames), connection.vendor), values, strict=True
        )
    ]
    return model.from_db(connection.alias, list(attnames), converted)


def _apply(converters: Sequence[Any], column: Any, value: Any) -> Any:
    for converter in converters:
        value = converter(value, column, connection)
    return value


@functools.lru_cache(maxsize=64)
def _converters(
    model: type[Model], attnames: tuple[str, ...], vendor: str
) -> list[tuple[Any, list[Any]]]:
    """Each column's converters, looked up once: the lookup cost more than the query."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    result = []
    for name in attnames:
        field = fields[name]
        column = field.get_col(model._meta.db_table)
        converters = connection.ops.get_db_converters(column) + field.get_db_converters(connection)
        result.append((column, converters))
    return result


def fetch_all(
    sql: str, params: Sequence[Any], *, prepare: bool | None = None
) -> list[tuple[Any, ...]]:
    """A hand-written read: prepared on PostgreSQL, Django's cursor elsewhere (SQLite)."""
    if connection.vendor == "postgresql":
        return fetch_all_prepared(sql, params, prepare=prepare)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()

"""Hot-path SQL on PostgreSQL with server-side binding and prepared statements.

Django's psycopg backend binds parameters on the client (``ClientCursor``), so
PostgreSQL parses and plans every statement again. The few statements run
while a market row is locked (the lock read in ``betting.market_lock``, the
trade's ``betting_trade_write`` call in ``betting.trade_writes``) go through a
server-side-binding cursor instead: psycopg prepares a statement after it has
run ``prepare_threshold`` times (5 by default) and then only sends parameters.
It runs on Django's own connection, inside Django's transaction, and behind
Django's cursor wrapper: ``execute_wrappers``, Sentry's query spans,
``CaptureQueriesContext``, django-prometheus's counters and OpenTelemetry's
spans see these statements like any ORM query.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model
from django.db.transaction import TransactionManagementError
from psycopg.types.numeric import Int8Dumper


class HotCursor(psycopg.RawCursor):
    """A ``RawCursor`` that prepares by default and may send the COMMIT with its statement.

    Django's cursor wrapper calls ``execute(sql, params)`` with no options, so
    the options ride on the cursor. Committing inside ``execute`` keeps the
    COMMIT's round trip inside every wrapper's timing and span.
    """

    pm_prepare: bool | None = None
    pm_commit = False

    def execute(  # type: ignore[override]
        self, query: Any, params: Any = None, *, prepare: bool | None = None, binary: Any = None
    ) -> HotCursor:
        prepare = self.pm_prepare if prepare is None else prepare
        if not self.pm_commit:
            super().execute(query, params, prepare=prepare, binary=binary)
            return self
        with self.connection.pipeline():
            super().execute(query, params, prepare=prepare, binary=binary)
            self.connection.commit()  # sends COMMIT and syncs: one round trip for both
        return self


def fetch_all_prepared(
    sql: str,
    params: Sequence[Any] | Mapping[str, Any],
    *,
    commit: bool = False,
    prepare: bool | None = None,
) -> list[tuple[Any, ...]]:
    """Run one statement with server-side binding, prepared from its fifth run.

    ``params`` is a list for ``%s`` placeholders or a mapping for
    ``%(name)s`` ones. ``prepare=True`` prepares it on its first run: for the
    statements every trade runs, since psycopg forgets every prepared
    statement at each ROLLBACK (a refused bet) and would otherwise re-plan
    them five times over. Integers are always sent as ``int8``: psycopg picks
    int2/int4/int8 by value, and each mix of types would be a statement
    prepared apart.

    ``commit=True`` says this is the last statement of the caller's
    ``transaction.atomic()`` block: when that block is the outermost one, the
    COMMIT is sent in the same round trip (psycopg's pipeline mode) instead
    of one more after it; Django's own commit at the end of the block then
    finds nothing to do. Row locks are released one round trip sooner, which
    is what a hot market's throughput depends on. The statement must fail
    (raise) rather than return anything the caller would refuse, since there
    is no rolling back once it returns; ``predictmarket_require`` (migration
    core 0002) is how a statement states its own conditions. From then until
    the block ends, any statement on the connection raises
    ``TransactionManagementError`` (see ``_refuse_statements_after_commit``).
    Inside an outer transaction or a savepoint the COMMIT is left to Django
    as usual.

    Errors are Django's (``IntegrityError`` for a check violation, the
    psycopg error as its ``__cause__``), as for any ORM query.
    """
    db = connections[DEFAULT_DB_ALIAS]  # the proxy's every attribute is a thread-local lookup
    db.ensure_connection()
    committing = commit and _is_outermost_atomic_block(db)
    text, names = _native_placeholders(sql)
    values: list[Any] = (
        [params[name] for name in names]  # type: ignore[call-overload]
        if names is not None
        else list(params)
    )
    if (recording := _RECORDING.get()) is not None:
        recording.append(Statement(_percent_placeholders(sql), tuple(values), committing))
    raw = _cursor_class(_raw_cursor_class or HotCursor, db)(db.connection)
    raw.adapters.register_dumper(int, Int8Dumper)
    raw.pm_prepare = prepare
    raw.pm_commit = committing
    block = db.atomic_blocks[-1] if committing else None
    with db._prepare_cursor(raw) as cursor:
        cursor.execute(text, values)
        if db.queries_logged and db.queries_log[-1]["sql"] is None:
            # Django reads a prepared statement's text from where psycopg keeps
            # it only for statements it did not prepare.
            db.queries_log[-1]["sql"] = text
        if block is not None:
            _refuse_statements_after_commit(block)
        return cursor.fetchall()


def _refuse_statements_after_commit(block: Any) -> None:
    """Until ``block`` (the outermost atomic block) ends, every statement on the connection raises.

    Its transaction is committed: a statement now would open a new one,
    which Django would commit apart at the end of the block (or roll back
    alone), and the block would no longer be atomic. The guard is an
    ``execute_wrapper``; every statement through Django's cursor passes it
    (the ORM's, ``fetch_all_prepared``'s, Django's savepoints), and it
    removes itself at the first statement after the block.
    """

    def refuse(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        db = context["connection"]
        if db.in_atomic_block and any(b is block for b in db.atomic_blocks):
            raise TransactionManagementError(
                "This transaction was already committed with its last statement "
                "(fetch_all_prepared(commit=True)); nothing more may run in this atomic "
                f"block. Refused: {str(sql)[:200]}"
            )
        _discard(refuse)
        return execute(sql, params, many, context)

    connection.execute_wrappers.append(refuse)
    connection.on_commit(lambda: _discard(refuse))  # the usual end: Django's (empty) commit


def _discard(wrapper: Callable[..., Any]) -> None:
    if wrapper in connection.execute_wrappers:
        connection.execute_wrappers.remove(wrapper)


def _cursor_class(base: type[HotCursor], db: Any) -> type[HotCursor]:
    """``base`` counted and timed by django-prometheus when it is the database backend.

    django-prometheus counts at the psycopg cursor class (its backend sets the
    connection's ``cursor_factory``), which a cursor made by hand bypasses.
    """
    return _exporting_class(base, db.alias, db.vendor) if _is_exporting(db) else base


def _is_exporting(db: Any) -> bool:
    from django_prometheus.db.common import DatabaseWrapperMixin

    return isinstance(db, DatabaseWrapperMixin)


@functools.lru_cache(maxsize=8)
def _exporting_class(base: type[HotCursor], alias: str, vendor: str) -> type[HotCursor]:
    from django_prometheus.db.common import ExportingCursorWrapper

    return ExportingCursorWrapper(base, alias, vendor)  # type: ignore[no-any-return]


# A traced HotCursor while tracing is on (``predictmarket.tracing``); None: HotCursor itself.
_raw_cursor_class: type[HotCursor] | None = None


def use_raw_cursor_class(cursor_class: type[HotCursor] | None) -> None:
    global _raw_cursor_class
    _raw_cursor_class = cursor_class


@dataclass(frozen=True)
class Statement:
    sql: str  # with %s placeholders
    params: tuple[Any, ...]
    committed: bool  # the COMMIT travelled with it

    @property
    def sql_sent(self) -> str:
        """The text sent to PostgreSQL (``$1, $2…`` placeholders)."""
        return _native_placeholders(self.sql)[0]


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
def _native_placeholders(sql: str) -> tuple[str, tuple[str, ...] | None]:
    """``%s`` or ``%(name)s`` → ``$1, $2…`` once per statement text, and the names in order.

    (``%%`` is a literal ``%``, as for psycopg; a statement uses one style.)
    psycopg converts ``%s`` queries itself but caches the conversion only for
    statements under 4 kB; the lock read is longer, and converting it cost
    about half a millisecond per bet, with the market locked. A ``RawCursor``
    takes PostgreSQL's own placeholders as they are. A name used twice is
    one parameter.
    """
    counter = itertools.count(1)
    names: dict[str, int] = {}
    positional = False

    def number(match: re.Match[str]) -> str:
        nonlocal positional
        if match.group() == "%%":
            return "%"
        name = match.group("name")
        if name is None:
            positional = True
            return f"${next(counter)}"
        if name in names:
            raise ValueError(f"%({name})s is used twice in one statement")
        names[name] = next(counter)
        return f"${names[name]}"

    text = _PLACEHOLDER.sub(number, sql)
    if positional and names:
        raise ValueError("a statement uses either %s or %(name)s placeholders, not both")
    return text, (tuple(names) if names else None)


@functools.lru_cache(maxsize=256)
def _percent_placeholders(sql: str) -> str:
    """The statement with ``%s`` for each parameter, in ``fetch_all_prepared``'s order.

    What ``statements_recorded`` keeps: ``ClientCursor.mogrify`` inlines it
    (``bench/bets.py``).
    """
    return _PLACEHOLDER.sub(lambda m: "%s" if m.group("name") else m.group(), sql)


_PLACEHOLDER = re.compile(r"%%|%s|%\((?P<name>\w+)\)s")


def _is_outermost_atomic_block(db: Any) -> bool:
    return (
        db.in_atomic_block
        and len(db.atomic_blocks) == 1
        and not db.savepoint_ids
        and not db.needs_rollback
        and not db.get_autocommit()
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
    db = connections[DEFAULT_DB_ALIAS]
    converted = [
        _apply(converters, column, value, db)
        for (column, converters), value in zip(
            _converters(model, tuple(attnames), db.vendor), values, strict=True
        )
    ]
    return model.from_db(db.alias, list(attnames), converted)


def _apply(converters: Sequence[Any], column: Any, value: Any, db: Any) -> Any:
    for converter in converters:
        value = converter(value, column, db)
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


_PORTABLE: ContextVar[bool] = ContextVar("pm_portable_writes", default=False)


def writes_in_sql() -> bool:
    """Write postings and trades through their SQL functions (PostgreSQL), not the ORM path."""
    return connection.vendor == "postgresql" and not _PORTABLE.get()


@contextmanager
def portable_writes() -> Iterator[None]:
    """Use the portable (ORM, SQLite's) path for postings and trades, on PostgreSQL too.

    For tests that compare both paths' rows on the same database.
    """
    token = _PORTABLE.set(True)
    try:
        yield
    finally:
        _PORTABLE.reset(token)

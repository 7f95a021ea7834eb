"""Prebuilt Core statements compiled once and run on psycopg's cursor.

For a small statement that runs on every message, SQLAlchemy's execution path
(cache-key lookup, execution context, ``construct_params``, result metadata) costs
more CPU than the driver sending it, and psycopg parses every query for its
``%(name)s`` placeholders again when the query is longer than its cache allows
(4 KiB; the deferred writes' combined statement is longer). ``compile_for_driver``
does that work once: the SQL with PostgreSQL's own ``$n`` placeholders, each
parameter with its type's bind processor, literal values, column defaults, and the
result columns with their result processors. ``execute`` then sends it on a
``psycopg.RawCursor`` of the connection, inside the same transaction.

Kept from SQLAlchemy's path: type processing in both directions, the
``before_cursor_execute`` / ``after_cursor_execute`` events (``context`` is None,
parameters a list), error wrapping (a driver error is raised as SQLAlchemy's
``DBAPIError`` subclass, parameters hidden) and invalidating a connection the driver
reports lost. Not supported, and so compiled to None (``run`` then keeps
SQLAlchemy's path): dialects other than psycopg's, expanding ``IN`` parameters,
values computed per execution (``bindparam(callable_=...)``), result columns without
distinct names, and column defaults other than a Python value or a callable that
takes no context.
"""

from __future__ import annotations

import re
from collections import namedtuple
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, Final, TypeAlias

import psycopg
from sqlalchemy import ColumnDefault, Connection, Delete, Insert, Select, Update, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import SQLCompiler

Processor: TypeAlias = Callable[[Any], Any]
Statement: TypeAlias = Select[Any] | Insert | Update | Delete


@dataclass(frozen=True, slots=True)
class Parameter:
    key: str | None  # in the caller's parameters; None for a literal value
    processor: Processor | None
    # Fills in a column's Python-side default when the caller leaves ``key`` out.
    default: Callable[[], Any] | None = None
    value: Any = None  # the processed literal value
    source: int = 0  # which of the parameter mappings holds ``key`` (``execute_sets``)


@dataclass(frozen=True, slots=True)
class DriverStatement:
    sql: str  # with $1, $2, ... in the order of ``parameters``
    parameters: tuple[Parameter, ...]
    # Makes a row (a named tuple of the result columns); None when there are no rows.
    make_row: Callable[[Iterable[Any]], Any] | None
    # The result columns that have a processor, by position: most have none.
    result_processors: tuple[tuple[int, Processor], ...]


Locate: TypeAlias = Callable[[str], tuple[int, str]]


def compile_for_driver(
    statement: Statement, dialect: Dialect, locate: Locate | None = None
) -> DriverStatement | None:
    """``statement`` ready for ``execute``; None when it needs SQLAlchemy's path.

    With ``locate``, the statement takes its parameters from several mappings
    (``execute_sets``): ``locate`` names, for each of its parameter names, the mapping's
    index and the key in it."""
    if dialect.driver != "psycopg":
        return None
    compiled = statement.compile(dialect=dialect)
    assert isinstance(compiled, SQLCompiler)
    if compiled.post_compile_params or compiled.positional:
        return None  # expanding IN, or not named (pyformat) parameters
    prefetched = {column.key: column.default for column in compiled.insert_prefetch}
    prefetched |= {column.key: column.onupdate for column in compiled.update_prefetch}
    makers = {key: _maker(default) for key, default in prefetched.items()}
    if None in makers.values():
        return None  # a SQL expression or a sequence as the default
    if any(bind.callable is not None for bind in compiled.binds.values()):
        return None  # a value computed per execution
    by_sql_name: dict[str, Parameter] = {}
    for name, bind in compiled.binds.items():
        processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
        sql_name = compiled.escaped_bind_names.get(name, name)
        if not bind.required and bind.key not in makers:  # a literal value
            value = _apply(processor, bind.value)
            by_sql_name[sql_name] = Parameter(None, processor, value=value)
            continue
        source, key = (0, bind.key) if locate is None else locate(bind.key)
        default = makers.get(bind.key)
        by_sql_name[sql_name] = Parameter(key, processor, default, source=source)
    sql, order = _numbered(compiled.string)
    # The result columns in the order the driver returns them (SELECT or RETURNING).
    columns = compiled._result_columns
    names = [c.keyname for c in columns]
    if len(set(names)) < len(names) or not all(name.isidentifier() for name in names):
        return None  # rows read by attribute need distinct names
    make_row = None
    if columns:
        make_row = namedtuple("Row", names)._make  # type: ignore[attr-defined]
    processors = (c.type.dialect_impl(dialect).result_processor(dialect, None) for c in columns)
    processed = tuple((i, p) for i, p in enumerate(processors) if p is not None)
    parameters = tuple(by_sql_name[name] for name in order)
    return DriverStatement(sql, parameters, make_row, processed)


_PYFORMAT: Final = re.compile(r"%%|%\((\w+)\)s")


def _numbered(sql: str) -> tuple[str, list[str]]:
    """``sql`` with ``%(name)s`` as ``$n`` (one number per name) and ``%%`` as ``%``."""
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _PYFORMAT.sub(number, sql), order


def _maker(default: Any) -> Callable[[], Any] | None:
    if isinstance(default, ColumnDefault) and default.is_callable:
        # SQLAlchemy wraps a default callable to take the execution context; there is none
        # here (a default that reads it fails loudly).
        return partial(default.arg, None)
    if isinstance(default, ColumnDefault) and default.is_scalar:
        return partial(lambda value: value, default.arg)
    return None


def _apply(processor: Processor | None, value: Any) -> Any:
    return value if processor is None else processor(value)


def execute(
    connection: Connection, statement: DriverStatement, params: Mapping[str, Any]
) -> list[Any]:
    """Run ``statement`` with ``params``; its rows (named tuples), or [] when it has none."""
    return execute_sets(connection, statement, (params,))


def execute_sets(
    connection: Connection, statement: DriverStatement, param_sets: Sequence[Mapping[str, Any]]
) -> list[Any]:
    """``execute`` for a statement compiled with ``locate``: its parameters taken from
    the mappings of ``param_sets`` where ``locate`` put them, none merged into one."""
    values: list[Any] = []
    for parameter in statement.parameters:
        key, processor = parameter.key, parameter.processor
        if key is None:
            values.append(parameter.value)
            continue
        params = param_sets[parameter.source]
        if parameter.default is not None and key not in params:
            value = parameter.default()
        else:
            value = params[key]
        values.append(value if processor is None else processor(value))
    dispatch = connection.dispatch
    sql = statement.sql
    driver_connection: psycopg.Connection[Any] = connection.connection.driver_connection  # type: ignore[assignment]
    cursor = psycopg.RawCursor(driver_connection)
    for before in dispatch.before_cursor_execute:
        # Every listener returns the statement and parameters (retval=False ones unchanged).
        sql, values = before(connection, cursor, sql, values, None, False)
    try:
        cursor.execute(sql, values)
        raw = cursor.fetchall() if statement.make_row is not None else []
    except psycopg.Error as error:
        _raise_wrapped(connection, error, sql, values, cursor)
    finally:
        cursor.close()
    for after in dispatch.after_cursor_execute:
        after(connection, cursor, sql, values, None, False)
    make = statement.make_row
    if make is None:
        return []
    processed = statement.result_processors
    if not processed:
        return [make(row) for row in raw]
    rows = []
    for row in raw:
        values = list(row)
        for i, processor in processed:
            values[i] = processor(values[i])
        rows.append(make(values))
    return rows


def _raise_wrapped(
    connection: Connection, error: psycopg.Error, sql: str, values: Any, cursor: Any
) -> None:
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, cursor)  # type: ignore[arg-type]
    if lost:
        connection.invalidate(error)
    raise exc.DBAPIError.instance(
        sql,
        values,
        error,
        psycopg.Error,
        hide_parameters=True,
        dialect=dialect,
        connection_invalidated=lost,
    ) from error


_compiled = lru_cache(maxsize=1024)(compile_for_driver)


def run(connection: Connection, statement: Statement, params: Mapping[str, Any]) -> list[Any]:
    """Rows of a prebuilt ``statement``: through the driver when it compiles for it,
    else through SQLAlchemy's path. Either way, read rows by attribute."""
    compiled = _compiled(statement, connection.dialect)
    if compiled is None:
        result = connection.execute(statement, params)
        return list(result) if result.returns_rows else []
    return execute(connection, compiled, params)

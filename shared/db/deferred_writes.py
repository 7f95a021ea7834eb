"""Writes a transaction makes but never reads back, sent together at commit.

History and outbox rows are append-only, and a handler's bulk updates (cancel the
pending mail, complete the command) touch rows it does not load. None of them need
the ORM's unit of work, and none need to reach the database before the commit:

- ``append`` queues a row for a table;
- ``defer`` queues a prebuilt Core INSERT, UPDATE or DELETE with the values of its
  named ``bindparam``s;
- ``update_at_commit`` has the changed columns of one loaded ORM object written as
  such an UPDATE instead of by the flush (the object's changes stay visible to the
  session until then; an autoflush meanwhile writes them as usual).

Just before the commit the session flushes (the queued writes may refer to rows it
adds), then the queued writes run in the order they were queued. On PostgreSQL they
are one statement, each write a data-modifying CTE, so the whole batch is a single
round trip. Such CTEs all see the snapshot from before the statement, so deferred
writes must not depend on one another's effects, nor touch one row twice. A rollback
forgets them.

Statements are prebuilt, never built per call: building a Core statement and its
cache key costs more than running it. The combined statement for each sequence of
templates is built once and kept.
"""

from __future__ import annotations

from functools import cache, lru_cache, partial
from typing import Any, Final, TypeAlias, cast

from sqlalchemy import (
    BindParameter,
    ColumnDefault,
    Delete,
    Insert,
    Table,
    Update,
    bindparam,
    event,
    insert,
    inspect,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql import visitors

from shared.db.driver_statements import compile_for_driver, execute_sets, run

Write: TypeAlias = Insert | Update | Delete

_QUEUED: Final = "werving.deferred_writes"
_TRACKED: Final = "werving.update_at_commit"


def append(session: Session, model: type[DeclarativeBase], row: dict[str, Any]) -> None:
    """Insert ``row`` into ``model``'s table when the session's transaction commits.

    Columns left out take their Python-side defaults now: a statement nested in a
    CTE would not get them.
    """
    table = cast(Table, model.__table__)
    for key, default in _python_defaults(table):
        if key not in row:
            row[key] = default.arg(None) if default.is_callable else default.arg
    _queue(session).append((_insert_template(table, tuple(row)), row))


def defer(session: Session, template: Write, params: dict[str, Any]) -> None:
    """Run ``template``, a prebuilt statement, with ``params`` when the transaction commits."""
    _queue(session).append((template, params))


def update_at_commit(session: Session, instance: object) -> None:
    """Write ``instance``'s changed columns with the deferred writes, not the flush."""
    session.info.setdefault(_TRACKED, []).append(instance)


def _defer_tracked(session: Session, tracked: list[object]) -> None:
    for instance in tracked:
        state = inspect(instance)
        table = state.mapper.local_table
        changed = tuple(sorted(state.committed_state))
        if state.session is not session or not isinstance(table, Table) or not changed:
            continue
        loaded = state.dict  # the values, as the attributes would read them
        keys = _plain_columns(table, changed)
        if keys is None or not all(key in loaded for key in keys):
            continue  # not plain columns, or not all loaded: leave it to the flush
        defer(session, _update_template(table, changed), {key: loaded[key] for key in keys})
        session.expunge(instance)  # written above: nothing left for the flush


@cache
def _plain_columns(table: Table, changed: tuple[str, ...]) -> tuple[str, ...] | None:
    """The primary key's and ``changed``'s keys, if all are plain columns of ``table``."""
    keys = tuple(column.key for column in table.primary_key) + changed
    return keys if all(key in table.c for key in keys) else None


def _queue(session: Session) -> list[tuple[Write, dict[str, Any]]]:
    queued: list[tuple[Write, dict[str, Any]]] = session.info.setdefault(_QUEUED, [])
    return queued


@cache
def _python_defaults(table: Table) -> tuple[tuple[str, ColumnDefault], ...]:
    return tuple(
        (column.key, column.default)
        for column in table.columns
        if isinstance(column.default, ColumnDefault)
    )


@cache
def _insert_template(table: Table, keys: tuple[str, ...]) -> Insert:
    return insert(table).values({key: bindparam(key, type_=table.c[key].type) for key in keys})


@cache
def _update_template(table: Table, keys: tuple[str, ...]) -> Update:
    where = [column == bindparam(column.key) for column in table.primary_key]
    return update(table).where(*where).values({key: bindparam(key) for key in keys})


@lru_cache(maxsize=512)
def _combined(templates: tuple[Write, ...]) -> Write:
    """``WITH deferred_0 AS (...), ... <last>``, the parameters of write ``i`` suffixed ``_i``."""
    *first, last = (_suffixed(template, f"_{i}") for i, template in enumerate(templates))
    return last.add_cte(*(write.cte(f"deferred_{i}") for i, write in enumerate(first)))


def _write_of(name: str) -> tuple[int, str]:
    """A combined statement's parameter ``name``: which write's, and its key there."""
    key, _, index = name.rpartition("_")
    return int(index), key


# The combined statements for the driver, their parameters read from each write's own
# mapping: merging them into one (``<key>_<i>``: a string built per value) cost more.
_compiled_combined = lru_cache(maxsize=512)(partial(compile_for_driver, locate=_write_of))


def _suffixed(template: Write, suffix: str) -> Write:
    def rename(element: Any, **_kw: Any) -> Any:
        # Named parameters only: a literal value's anonymous parameter carries its value.
        if isinstance(element, BindParameter) and element.value is None:
            return bindparam(element.key + suffix, type_=element.type, expanding=element.expanding)
        return None

    return cast(Write, visitors.replacement_traverse(template, {}, rename))


@event.listens_for(Session, "before_commit")
def _write_deferred(session: Session) -> None:
    tracked: list[object] | None = session.info.pop(_TRACKED, None)
    if tracked:
        _defer_tracked(session, tracked)
    queued: list[tuple[Write, dict[str, Any]]] | None = session.info.pop(_QUEUED, None)
    if not queued:
        return
    session.flush()
    connection = session.connection()
    if connection.dialect.name == "postgresql" and len(queued) > 1:
        statement = _combined(tuple(template for template, _ in queued))
        param_sets = [values for _, values in queued]
        compiled = _compiled_combined(statement, connection.dialect)
        if compiled is not None:
            execute_sets(connection, compiled, param_sets)
            return
        params = {
            f"{key}_{i}": value
            for i, values in enumerate(param_sets)
            for key, value in values.items()
        }
        run(connection, statement, params)  # SQLAlchemy's path: one mapping
        return
    for template, values in queued:
        run(connection, template, values)


@event.listens_for(Session, "after_soft_rollback")
def _forget_deferred(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_QUEUED, None)
    session.info.pop(_TRACKED, None)

"""ORM objects from rows read on the driver path (``shared.db.driver_statements``).

A statement that locks or joins several tables in one round trip returns plain rows;
``columns`` labels a model's columns in such a statement, and ``attach`` turns the
labelled values back into a persistent, unmodified instance in the session, as the ORM's
own loader (``sqlalchemy.orm.loading._instance``) does: a new instance, its identity
key and session set, its columns written to its ``__dict__`` without history (the
declarative constructor would record each as a change, at some cost).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from operator import attrgetter
from typing import Any, TypeVar, cast

from sqlalchemy import Label, Table, inspect
from sqlalchemy.orm import Mapper, Session, configure_mappers
from sqlalchemy.orm.attributes import instance_state

M = TypeVar("M")


def columns(model: type[Any], prefix: str) -> tuple[Label[Any], ...]:
    """Every column of ``model``'s table, labelled ``prefix`` + its attribute key."""
    table = cast(Table, model.__table__)
    return tuple(column.label(prefix + column.key) for column in table.columns)


def attach(session: Session, model: type[M], row: Any, prefix: str) -> M | None:
    """The ``model`` instance whose columns ``row`` holds under ``prefix`` (see
    ``columns``), persistent in ``session``; None when its primary key is NULL (an outer
    join found none). An instance the session already holds is returned as it is."""
    mapped: Any = model
    shape = _shape(mapped)
    read = _readers(mapped, prefix)
    primary_key = read.primary_key(row)
    if None in primary_key:
        return None
    identity_key = shape.mapper.identity_key_from_primary_key(primary_key)
    held = session.identity_map.get(identity_key)
    if held is not None:
        return cast(M, held)
    instance = shape.mapper.class_manager.new_instance()
    state = instance_state(instance)
    # As the loader does it (SQLAlchemy 2.1): identity, session, then the loaded values;
    # a fresh state has no history or expired attributes to clear.
    state.key = identity_key
    state.session_id = session.hash_key
    session.identity_map._add_unpresent(state, identity_key)
    state.dict.update(zip(shape.keys, read.columns(row), strict=True))
    return cast(M, instance)


@dataclass(frozen=True, slots=True)
class _Readers:
    """Read a model's labelled columns from a row, all in one call (``attrgetter``)."""

    primary_key: Callable[[Any], tuple[Any, ...]]
    columns: Callable[[Any], tuple[Any, ...]]


@cache
def _readers(model: Any, prefix: str) -> _Readers:
    shape = _shape(model)

    def reader(keys: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
        get = attrgetter(*(prefix + key for key in keys))
        # attrgetter of one name returns the value itself, of several a tuple
        return get if len(keys) > 1 else lambda row: (get(row),)

    return _Readers(reader(shape.primary_key), reader(shape.keys))


@dataclass(frozen=True, slots=True)
class _Shape:
    mapper: Mapper[Any]
    keys: tuple[str, ...]
    primary_key: tuple[str, ...]


@cache
def _shape(model: Any) -> _Shape:
    configure_mappers()  # the class manager's instrumentation complete
    table = cast(Table, model.__table__)
    return _Shape(
        inspect(model),
        tuple(column.key for column in table.columns),
        tuple(column.key for column in table.primary_key),
    )

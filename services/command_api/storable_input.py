"""Refusing path and query parameters and form fields that cannot be stored.

One app-level dependency, run before any route's own dependencies, applies the rule of
:mod:`shared.storable_text` to every path parameter, every query parameter the route
declares and every field of a form body, and answers ``422`` naming the parameter. JSON
bodies are checked by their models (:class:`shared.commands.Contract`); the headers that
reach the database have stricter rules of their own (``Idempotency-Key`` is visible
ASCII, ``Content-Type`` one of a fixed list).
"""

from __future__ import annotations

from fastapi import Request, params
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute

from services.command_api.problems import invalid_field
from shared.storable_text import UNSTORABLE_CODE, printable, unstorable_reason

FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


_QUERY_NAMES: dict[str, tuple[str, ...]] = {}


def _query_names(route: APIRoute) -> tuple[str, ...]:
    """The query parameters the route declares (its own and its dependencies')."""
    names = _QUERY_NAMES.get(route.unique_id)
    if names is None:
        names = _QUERY_NAMES[route.unique_id] = tuple(
            field.alias
            for field in get_flat_params(route.dependant)
            if isinstance(field.field_info, params.Query)
        )
    return names


async def refuse_unstorable_input(request: Request) -> None:
    route = request.scope.get("route")
    named: list[tuple[str, str]] = [
        (name, value) for name, value in request.path_params.items() if isinstance(value, str)
    ]
    if isinstance(route, APIRoute):
        named += [
            (name, value)
            for name in _query_names(route)
            for value in request.query_params.getlist(name)
        ]
    if request.headers.get("content-type", "").lower().startswith(FORM_TYPES):
        form = await request.form()
        for name, value in form.multi_items():
            if (reason := unstorable_reason(name)) is not None:
                raise invalid_field(printable(name), UNSTORABLE_CODE, f"the name {reason}")
            if isinstance(value, str):
                named.append((name, value))
    for name, value in named:
        if (reason := unstorable_reason(value)) is not None:
            raise invalid_field(name, UNSTORABLE_CODE, reason)

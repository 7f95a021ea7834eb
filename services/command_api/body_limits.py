"""Refusing request bodies larger than their endpoint takes, before they are read.

A body is refused with ``413`` when its ``Content-Length`` is over the limit of the
longest matching path prefix, or, without one (chunked), as soon as more than that has
arrived: an upload endpoint never holds more than its limit plus one chunk in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.command_api.problems import Problem, problem_response

TOO_LARGE: Final = "Request body too large"
MB: Final = 1024 * 1024
DEFAULT_LIMITS: Final[Mapping[str, int]] = {
    "": 5 * MB,  # commands, bulk of up to 1,000 commands, templates
    "/v1/documents": 10 * MB + 64 * 1024,  # a CV of at most 10 MB
    "/v1/assets": 512 * 1024 + 64 * 1024,  # a logo of at most 512 KB
    "/review/": 256 * 1024,  # a reviewer's ratings and comments
    "/talent-pool/": 4 * 1024,  # one button
}


def body_limit(path: str, limits: Mapping[str, int] = DEFAULT_LIMITS) -> int:
    """The most bytes a request body to ``path`` may have: its longest prefix's limit."""
    return limits[max((p for p in limits if path.startswith(p)), key=len)]


class BodyTooLarge(HTTPException):
    """Raised while the body streams in; an HTTPException, so that FastAPI's body parsing
    passes it on (instead of turning it into a 400) to the problem handlers."""

    def __init__(self) -> None:
        super().__init__(413, TOO_LARGE)


class BodySizeLimit:
    def __init__(self, app: ASGIApp, limits: Mapping[str, int] = DEFAULT_LIMITS) -> None:
        self.app = app
        self.limits = dict(limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit(scope["path"], self.limits)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            too_large = Problem(
                title=TOO_LARGE, status=413, detail=f"this endpoint takes at most {limit} bytes"
            )
            await problem_response(too_large)(scope, receive, send)
            return
        received = 0

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        await self.app(scope, counting_receive, send)

"""document_worker's actors (queue ``documents``). None yet: see the package docstring."""

from __future__ import annotations

from services.document_worker import boot  # noqa: F401 - binds the broker before any actor

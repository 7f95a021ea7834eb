"""mail_worker's actors (queue ``mail``). None yet: see the package docstring."""

from __future__ import annotations

from services.mail_worker import boot  # noqa: F401 - binds the broker before any actor

"""Which command may move an application from which status, and to where. Pure data."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from shared.errors import RefusalCode, Refused
from shared.statuses import ACTIVE_STATUSES, ApplicationStatus


@dataclass(frozen=True, slots=True)
class Transition:
    allowed_from: frozenset[ApplicationStatus]
    to: ApplicationStatus


TRANSITIONS: Final[dict[str, Transition]] = {
    "withdraw_application": Transition(ACTIVE_STATUSES, ApplicationStatus.WITHDRAWN),
}


def next_status(command_type: str, current: ApplicationStatus) -> ApplicationStatus:
    """The status ``command_type`` leads to from ``current``, or a refusal saying why not."""
    transition = TRANSITIONS[command_type]
    if current not in transition.allowed_from:
        raise Refused(
            RefusalCode.INVALID_TRANSITION,
            f"{command_type} is not allowed for an application with status '{current}'",
        )
    return transition.to

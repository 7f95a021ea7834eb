"""Which command may act on an application in which state, and what status follows.

Pure data and one pure function, so that every combination can be tested directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Final

from shared.errors import RefusalCode, Refused
from shared.statuses import ACTIVE_STATUSES, ApplicationStatus

S = ApplicationStatus


class Keep(Enum):
    """Targets that are not a fixed status."""

    SAME = "unchanged"
    BEFORE = "status_before"


Target = ApplicationStatus | Keep


@dataclass(frozen=True, slots=True)
class Rule:
    allowed_from: frozenset[ApplicationStatus]
    to: Target
    # Restore and purge act only on deleted applications; everything else refuses them.
    needs_deleted: bool = False


ANY: Final = frozenset(ApplicationStatus)

# (command type, variant) -> rule. The variant is the field that decides the outcome.
RULES: Final[dict[tuple[str, str | None], Rule]] = {
    ("withdraw_application", None): Rule(ACTIVE_STATUSES, S.WITHDRAWN),
    ("delete_application", None): Rule(ANY - {S.HIRED}, Keep.SAME),
    ("restore_application", None): Rule(ANY, Keep.SAME, needs_deleted=True),
    ("purge_application", None): Rule(ANY, Keep.SAME, needs_deleted=True),
    ("invite_to_interview", None): Rule(frozenset({S.RECEIVED, S.INTERVIEW, S.SAVED}), S.INTERVIEW),
    ("reject_application", None): Rule(ACTIVE_STATUSES, S.REJECTED),
    ("unreject_application", None): Rule(frozenset({S.REJECTED}), Keep.BEFORE),
    ("save_application", None): Rule(frozenset({S.RECEIVED, S.INTERVIEW}), S.SAVED),
    ("save_and_send_credentials", None): Rule(
        frozenset({S.RECEIVED, S.INTERVIEW, S.SAVED}), S.SAVED
    ),
    ("transfer_application", "move"): Rule(ACTIVE_STATUSES, S.TRANSFERRED),
    ("transfer_application", "copy"): Rule(ACTIVE_STATUSES, Keep.SAME),
    ("send_offer", None): Rule(frozenset({S.RECEIVED, S.INTERVIEW, S.SAVED, S.OFFERED}), S.OFFERED),
    ("record_offer_response", "accepted"): Rule(frozenset({S.OFFERED}), Keep.SAME),
    ("record_offer_response", "declined"): Rule(frozenset({S.OFFERED}), S.WITHDRAWN),
    ("hire_applicant", None): Rule(ACTIVE_STATUSES, S.HIRED),
    # Commands that only send something: any status but transferred, never when deleted.
    ("send_email", None): Rule(ANY - {S.TRANSFERRED}, Keep.SAME),
    ("forward_cv", None): Rule(ANY - {S.TRANSFERRED}, Keep.SAME),
    ("send_letter", None): Rule(ANY - {S.TRANSFERRED}, Keep.SAME),
    ("send_employment_contract", None): Rule(frozenset({S.OFFERED, S.HIRED}), Keep.SAME),
    ("request_panel_review", None): Rule(ACTIVE_STATUSES, Keep.SAME),
}


def next_status(
    command_type: str,
    current: ApplicationStatus,
    *,
    deleted: bool = False,
    status_before: ApplicationStatus | None = None,
    variant: str | None = None,
) -> ApplicationStatus:
    """The status after ``command_type``, or a refusal that names the command and the state."""
    rule = RULES[(command_type, variant)]
    if deleted and not rule.needs_deleted:
        raise Refused(
            RefusalCode.DELETED, f"{command_type} is not allowed for a deleted application"
        )
    if rule.needs_deleted and not deleted:
        raise Refused(
            RefusalCode.INVALID_TRANSITION,
            f"{command_type} is only allowed for a deleted application,"
            f" not one with status '{current}'",
        )
    if current not in rule.allowed_from:
        raise Refused(
            RefusalCode.INVALID_TRANSITION,
            f"{command_type} is not allowed for an application with status '{current}'",
        )
    if rule.to is Keep.SAME:
        return current
    if rule.to is Keep.BEFORE:
        if status_before is None:  # a rejection always records it; be explicit if not
            raise Refused(
                RefusalCode.INVALID_TRANSITION,
                f"{command_type}: the status before '{current}' is unknown",
            )
        return status_before
    return rule.to

"""The status an application has for its vacancy."""

from __future__ import annotations

from enum import StrEnum


class ApplicationStatus(StrEnum):
    RECEIVED = "received"
    INTERVIEW = "interview"
    OFFERED = "offered"
    SAVED = "saved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    HIRED = "hired"
    TRANSFERRED = "transferred"

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset(
    {
        ApplicationStatus.RECEIVED,
        ApplicationStatus.INTERVIEW,
        ApplicationStatus.OFFERED,
        ApplicationStatus.SAVED,
    }
)


class CommandStatus(StrEnum):
    ACCEPTED = "accepted"
    SUCCEEDED = "succeeded"
    REJECTED = "rejected"
    FAILED = "failed"

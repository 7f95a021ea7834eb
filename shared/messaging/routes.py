"""The one table that says which queue and actor carry out each command."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from dramatiq.common import dq_name, xq_name

STATUS_QUEUE: Final = "status"
MAIL_QUEUE: Final = "mail"
DOCUMENTS_QUEUE: Final = "documents"
WORKER_QUEUES: Final = (STATUS_QUEUE, MAIL_QUEUE, DOCUMENTS_QUEUE)
# With the delay (.DQ) and dead-letter (.XQ) queues Dramatiq declares beside each.
WORKER_QUEUES_WITH_SIBLINGS: Final = tuple(
    name for queue in WORKER_QUEUES for name in (queue, dq_name(queue), xq_name(queue))
)


@dataclass(frozen=True, slots=True)
class Route:
    queue: str
    actor: str


STATUS_COMMAND_TYPES: Final = (
    "register_application",
    "withdraw_application",
    "delete_application",
    "restore_application",
    "purge_application",
    "invite_to_interview",
    "reject_application",
    "unreject_application",
    "save_application",
    "save_and_send_credentials",
    "transfer_application",
    "send_offer",
    "record_offer_response",
    "hire_applicant",
    # These only schedule work for mail_worker and document_worker; the status
    # worker checks the application's state first, like for every command.
    "send_email",
    "forward_cv",
    "send_letter",
    "send_employment_contract",
    # Panel reviews: the status worker checks the applications, mail_worker sends the links.
    "request_panel_review",
    "revoke_panel_reviewer",
    "resend_panel_review_link",
    "close_panel_review",
)

# Command ``type`` -> where it goes. The actor name equals the command type.
ROUTES: Final[dict[str, Route]] = {
    command_type: Route(queue=STATUS_QUEUE, actor=command_type)
    for command_type in STATUS_COMMAND_TYPES
}

# Jobs that the scheduler hands to a worker when they fall due.
MAIL_JOB_ROUTE: Final = Route(queue=MAIL_QUEUE, actor="deliver_mail_job")
DOCUMENT_JOB_ROUTE: Final = Route(queue=DOCUMENTS_QUEUE, actor="render_document_job")


def route_for(command_type: str) -> Route:
    try:
        return ROUTES[command_type]
    except KeyError:
        raise LookupError(f"no route for command type {command_type!r}") from None

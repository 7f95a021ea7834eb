"""The rules of each status command, by command type.

Handlers check everything before they write, so a refusal leaves nothing behind;
the unit of work records the outcome in the same transaction.
"""

from __future__ import annotations

from typing import Final

from services.status_worker.handlers.hiring import hire_applicant
from services.status_worker.handlers.lifecycle import (
    delete_application,
    restore_application,
    withdraw_application,
)
from services.status_worker.handlers.messages import (
    forward_cv,
    send_email,
    send_employment_contract,
    send_letter,
)
from services.status_worker.handlers.offers import record_offer_response, send_offer
from services.status_worker.handlers.progress import (
    invite_to_interview,
    save_and_send_credentials,
    save_application,
)
from services.status_worker.handlers.purge import purge_application
from services.status_worker.handlers.registration import register_application
from services.status_worker.handlers.rejection import reject_application, unreject_application
from services.status_worker.handlers.reviews import (
    close_panel_review,
    request_panel_review,
    resend_panel_review_link,
    revoke_panel_reviewer,
)
from services.status_worker.handlers.transfer import transfer_application
from services.status_worker.unit_of_work import Handler

HANDLERS: Final[dict[str, Handler]] = {
    "register_application": register_application,
    "withdraw_application": withdraw_application,
    "delete_application": delete_application,
    "restore_application": restore_application,
    "purge_application": purge_application,
    "invite_to_interview": invite_to_interview,
    "reject_application": reject_application,
    "unreject_application": unreject_application,
    "save_application": save_application,
    "save_and_send_credentials": save_and_send_credentials,
    "transfer_application": transfer_application,
    "send_offer": send_offer,
    "record_offer_response": record_offer_response,
    "hire_applicant": hire_applicant,
    "send_email": send_email,
    "forward_cv": forward_cv,
    "send_letter": send_letter,
    "send_employment_contract": send_employment_contract,
    "request_panel_review": request_panel_review,
    "revoke_panel_reviewer": revoke_panel_reviewer,
    "resend_panel_review_link": resend_panel_review_link,
    "close_panel_review": close_panel_review,
}

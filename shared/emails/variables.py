"""Every email purpose and the variables its templates may use; no formatting, so that
the command models can check a template's variables where Babel is not installed.

``AD_HOC_TEMPLATES``: the templates ``send_email`` may name, with the variables the
application provides for each; the command gives the rest as ``variables``. Emails whose
values must come from werving itself (a set-password link, an interview's answer link, a
review link, the recipients of a forward) cannot be sent ad hoc.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final, Literal, get_args

Purpose = Literal[
    "receipt",
    "rejection",
    "interview_invitation",
    "offer",
    "credentials",
    "withdrawal_confirmation",
    "cv_forward",
    "cv_forward_anonymized",
    "panel_review_invitation",
    "letter_received",
    "letter_rejected",
    "contract",
    "talent_pool_consent",
]
PURPOSES: Final[tuple[Purpose, ...]] = get_args(Purpose)

# Variables that identify an applicant. The anonymized CV forward may use none of them.
IDENTIFYING_VARIABLES: Final = frozenset(
    {"applicant_name", "applicant_first_name", "applicant_email", "applicant_phone"}
)


# What a job's application gives every template, email or document
# (shared.templates.application_values.JobSubject.values).
APPLICATION_VARIABLES: Final = frozenset(
    {
        "applicant_name",
        "applicant_first_name",
        "vacancy_title",
        "organisation_name",
        "recruiter_name",
    }
)

VARIABLES: Final = MappingProxyType[Purpose, frozenset[str]](
    {
        # "We received your application" (register_application with send_receipt).
        "receipt": APPLICATION_VARIABLES,
        # reason: the organisation's label for the rejection reason, or "" to leave it out.
        "rejection": APPLICATION_VARIABLES | {"reason"},
        # interview_type: phone, in_person, video or group (templates word it per locale).
        # interview_location / interview_link: "" when the type has none.
        # response_link: the page where the applicant confirms or declines ("" for none).
        "interview_invitation": APPLICATION_VARIABLES
        | {
            "interview_type",
            "interview_start",
            "interview_duration",
            "interview_location",
            "interview_link",
            "interviewers",
            "response_link",
        },
        # offer_expires: the reply deadline, "" when the offer has none; message: "" when none.
        "offer": APPLICATION_VARIABLES
        | {"offer_salary", "offer_start_date", "offer_expires", "message"},
        # Never a password: a one-time link to set one, valid until set_password_expires.
        "credentials": (APPLICATION_VARIABLES - {"vacancy_title"})
        | {"username", "set_password_link", "set_password_expires"},
        "withdrawal_confirmation": APPLICATION_VARIABLES,
        # To a third party. cv_attached: True when the CV goes along as an attachment.
        "cv_forward": (APPLICATION_VARIABLES - {"applicant_first_name"})
        | {
            "recipient_name",
            "applicant_email",
            "applicant_phone",
            "reference_code",
            "message",
            "cv_attached",
        },
        # The anonymize mode: an allowlist of fields that do not identify the applicant,
        # and a random reference code (never an id), never the CV itself.
        "cv_forward_anonymized": (APPLICATION_VARIABLES - IDENTIFYING_VARIABLES)
        | {"recipient_name", "reference_code", "message"},
        # due_date: "" when the review has no deadline.
        "panel_review_invitation": frozenset(
            {
                "reviewer_name",
                "vacancy_title",
                "organisation_name",
                "recruiter_name",
                "review_link",
                "due_date",
                "message",
            }
        ),
        # The formal letters of send_letter (channel email).
        "letter_received": APPLICATION_VARIABLES | {"letter_date"},
        # send_employment_contract: the PDF is attached.
        "contract": APPLICATION_VARIABLES | {"message"},
        "letter_rejected": APPLICATION_VARIABLES | {"letter_date", "reason"},
        # Retention: the talent-pool consent ends on consent_expires; extend_link (a page
        # with one button) keeps the applicant until extended_until.
        "talent_pool_consent": (APPLICATION_VARIABLES - {"vacancy_title"})
        | {"consent_expires", "extended_until", "extend_link"},
    }
)

assert set(VARIABLES) == set(PURPOSES), "every purpose lists its variables"
assert not VARIABLES["cv_forward_anonymized"] & IDENTIFYING_VARIABLES


def allowed_variables(purpose: Purpose) -> frozenset[str]:
    """The variables a template for ``purpose`` may use; an unknown purpose is refused."""
    try:
        return VARIABLES[purpose]
    except KeyError:
        raise ValueError(f"unknown email purpose {purpose!r}") from None


AD_HOC_TEMPLATES: Final = MappingProxyType[Purpose, frozenset[str]](
    {
        "receipt": APPLICATION_VARIABLES,
        "withdrawal_confirmation": APPLICATION_VARIABLES,
        "rejection": APPLICATION_VARIABLES,
        "offer": APPLICATION_VARIABLES,
        "contract": APPLICATION_VARIABLES,
        "letter_received": APPLICATION_VARIABLES | {"letter_date"},
        "letter_rejected": APPLICATION_VARIABLES | {"letter_date", "reason"},
    }
)
assert all(provided <= VARIABLES[p] for p, provided in AD_HOC_TEMPLATES.items())


def ad_hoc_variables(template: str) -> tuple[frozenset[str], frozenset[str]] | None:
    """For a template ``send_email`` may name: (what the application provides, what the
    command must give); None for any other name."""
    for purpose, provided in AD_HOC_TEMPLATES.items():
        if purpose == template:
            return provided, VARIABLES[purpose] - provided
    return None

"""purge_application: erase a deleted application's personal data, everywhere it lives.

What stays is a PII-free trace: history rows (ids, statuses, who acted, when) with
their free text erased, plus an ``application.purged`` row. The applicant goes too
when no other application remains (with the talent-pool consent). Later commands on
the id answer ``not_found``.

The scheduler's retention sweep sends the same command (source ``retention``): it
purges an application that is not deleted, as long as the organisation's policy still
says it is due when the purge runs (checked again here; ``not_due`` otherwise), and its
event and history say ``retention``.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session

from services.status_worker.changes import load_for_change, schedule_document, target_status
from services.status_worker.unit_of_work import CommandContext
from shared.commands import PurgeApplication
from shared.db.erasure import mark_erased
from shared.db.models import (
    Applicant,
    Application,
    ApplicationEvent,
    CandidateAccount,
    CommandRecord,
    Document,
    IdempotencyRecord,
    Interview,
    Offer,
    OutboundEmail,
    PanelRating,
    PanelReviewCandidate,
    ScheduledJob,
    SetPasswordToken,
    TalentPoolConsent,
)
from shared.documents.jobs import ERASE_FILES
from shared.errors import RefusalCode, Refused
from shared.events import ApplicationPurged
from shared.ids import new_id
from shared.messaging.dead_letters import erase_dead_letters
from shared.messaging.outbox import publish_event
from shared.retention.due import due_purges
from shared.retention.policy import RETENTION_SOURCE, policy_of

ERASED = {"erased": True}


def purge_application(session: Session, ctx: CommandContext, cmd: PurgeApplication) -> None:
    application = load_for_change(session, ctx, cmd)
    by_retention = ctx.source == RETENTION_SOURCE
    if by_retention:
        _check_still_due(session, ctx, application)
    else:
        target_status(application, cmd.type)  # only a deleted application may be purged
    mark_erased(session)
    app_id, applicant_id = application.id, application.applicant_id
    applicant = session.get(Applicant, applicant_id)
    cvs = {application.cv_document_id, applicant.cv_document_id if applicant else None} - {None}

    storage_keys = list(
        session.scalars(select(Document.storage_key).where(Document.application_id == app_id))
    )
    job_ids = list(
        session.scalars(select(ScheduledJob.id).where(ScheduledJob.application_id == app_id))
    )
    for model in (
        Interview,
        Offer,
        ScheduledJob,
        OutboundEmail,
        Document,
        PanelRating,
        PanelReviewCandidate,
    ):
        session.execute(delete(model).where(model.application_id == app_id))
    session.execute(
        update(ApplicationEvent)
        .where(ApplicationEvent.application_id == app_id)
        .values(reason=None, note=None)
    )
    # Commands about this application keep their type and outcome, not their fields.
    command_ids = select(CommandRecord.id).where(
        CommandRecord.organisation_id == ctx.organisation_id,
        or_(
            CommandRecord.application_id == app_id,
            CommandRecord.result["new_application_id"].as_string() == str(app_id),
        ),
    )
    own_commands = list(session.scalars(command_ids))
    session.execute(
        update(CommandRecord)
        .where(CommandRecord.id.in_(own_commands))
        .values(payload=ERASED, outcome_message=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.organisation_id == ctx.organisation_id,
            IdempotencyRecord.response_body["application_id"].as_string() == str(app_id),
        )
    )
    session.delete(application)
    session.flush()

    remaining = session.scalar(
        select(func.count())
        .select_from(Application)
        .where(Application.applicant_id == applicant_id)
    )
    applicant_erased = not remaining
    if applicant_erased:
        accounts = select(CandidateAccount.id).where(CandidateAccount.applicant_id == applicant_id)
        session.execute(delete(SetPasswordToken).where(SetPasswordToken.account_id.in_(accounts)))
        session.execute(
            delete(CandidateAccount).where(CandidateAccount.applicant_id == applicant_id)
        )
        session.execute(
            delete(TalentPoolConsent).where(TalentPoolConsent.applicant_id == applicant_id)
        )
        session.execute(delete(Applicant).where(Applicant.id == applicant_id))
    elif by_retention and applicant is not None:
        _leave_lapsed_pool(session, applicant, ctx)
    # Failed deliveries about it: an upstream message that could not be accepted, a job
    # that failed for good. Their bodies and reasons may name the applicant.
    erase_dead_letters(
        session,
        ctx.organisation_id,
        command_ids=own_commands,
        mentioning=[app_id, *job_ids, *([applicant_id] if applicant_erased else [])],
    )
    erased_cvs, cv_keys = _erase_unused_cvs(session, cvs)
    storage_keys += cv_keys
    if erased_cvs:
        # The upload's replayable response names the file, its size and SHA-256.
        session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.organisation_id == ctx.organisation_id,
                IdempotencyRecord.response_body["id"]
                .as_string()
                .in_([str(cv) for cv in erased_cvs]),
            )
        )
    if storage_keys:
        # The files go after the commit, by document_worker: a rollback here must not
        # have removed them already.
        schedule_document(session, ctx, None, ERASE_FILES, storage_keys=storage_keys)

    session.add(
        ApplicationEvent(
            id=new_id(),
            organisation_id=ctx.organisation_id,
            application_id=app_id,
            command_id=ctx.command_id,
            event_type="application.purged",
            actor=ctx.actor,
            reason=RETENTION_SOURCE if by_retention else None,
            occurred_at=ctx.now,
        )
    )
    publish_event(
        session,
        ApplicationPurged(
            occurred_at=ctx.now,
            organisation_id=ctx.organisation_id,
            application_id=app_id,
            command_id=ctx.command_id,
            applicant_erased=applicant_erased,
            reason="retention" if by_retention else None,
        ),
    )


def _check_still_due(session: Session, ctx: CommandContext, application: Application) -> None:
    """Refuse a purge by retention that the policy no longer asks for (the application
    moved on, the vacancy reopened, the consent was extended, the policy changed)."""
    policy = policy_of(session, ctx.organisation_id)
    if not due_purges(session, ctx.organisation_id, policy, ctx.now, application_id=application.id):
        raise Refused(
            RefusalCode.NOT_DUE,
            f"application {application.id} is not due for purging under the retention policy",
        )


def _leave_lapsed_pool(session: Session, applicant: Applicant, ctx: CommandContext) -> None:
    """An applicant kept by another application (an active one, say) whose consent lapsed
    is no longer in the talent pool. The lapsed consent stays, so the applicant's other
    pooled applications are still due, until the applicant is erased or saved again."""
    consent = session.get(TalentPoolConsent, applicant.id)
    if consent is not None and consent.expires_at <= ctx.now:
        applicant.in_talent_pool = False


def _erase_unused_cvs(session: Session, cvs: set[UUID | None]) -> tuple[list[UUID], list[str]]:
    """Delete the CV documents no remaining application or applicant names; their ids
    and storage keys."""
    unused = [
        cv
        for cv in cvs
        if cv is not None
        and not session.scalar(select(Application.id).where(Application.cv_document_id == cv))
        and not session.scalar(select(Applicant.id).where(Applicant.cv_document_id == cv))
    ]
    if not unused:
        return [], []
    keys = list(session.scalars(select(Document.storage_key).where(Document.id.in_(unused))))
    session.execute(delete(Document).where(Document.id.in_(unused)))
    return unused, keys

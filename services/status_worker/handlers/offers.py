"""send_offer (versioned) and record_offer_response."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from services.status_worker.changes import (
    cancel_interviews,
    cancel_pending_mail,
    change,
    check_email_template,
    load_for_change,
    schedule_mail,
    target_status,
)
from services.status_worker.unit_of_work import CommandContext
from shared.commands import RecordOfferResponse, SendOffer
from shared.db.models import Offer
from shared.errors import RefusalCode, Refused
from shared.events import OfferResponded, OfferSent
from shared.ids import new_id
from shared.messaging.outbox import publish_event


def send_offer(session: Session, ctx: CommandContext, cmd: SendOffer) -> None:
    application = load_for_change(session, ctx, cmd)
    target = target_status(application, cmd.type)
    check_email_template(cmd.template, "offer")
    latest = session.scalar(
        select(func.max(Offer.version)).where(Offer.application_id == application.id)
    )
    session.execute(
        update(Offer)
        .where(Offer.application_id == application.id, Offer.status == "open")
        .values(status="superseded")
    )
    offer = Offer(
        id=new_id(),
        organisation_id=ctx.organisation_id,
        application_id=application.id,
        command_id=ctx.command_id,
        version=(latest or 0) + 1,
        salary_amount=cmd.salary.amount,
        salary_currency=cmd.salary.currency,
        salary_period=cmd.salary.period,
        start_date=cmd.start_date,
        expires_at=cmd.expires_at,
        message=cmd.message,
        status="open",
        created_at=ctx.now,
    )
    session.add(offer)
    change(session, ctx, application, target, "application.offer_sent")
    schedule_mail(session, ctx, application.id, "offer", offer_id=offer.id)
    ctx.result["offer_id"] = str(offer.id)
    publish_event(
        session,
        OfferSent(
            occurred_at=ctx.now,
            organisation_id=ctx.organisation_id,
            application_id=application.id,
            offer_id=offer.id,
            offer_version=offer.version,
            command_id=ctx.command_id,
        ),
    )


def record_offer_response(session: Session, ctx: CommandContext, cmd: RecordOfferResponse) -> None:
    application = load_for_change(session, ctx, cmd)
    target = target_status(application, cmd.type, variant=cmd.response)
    offer = session.scalar(
        select(Offer)
        .where(Offer.application_id == application.id, Offer.status == "open")
        .order_by(Offer.version.desc())
        .with_for_update()
    )
    if offer is None:
        raise Refused(
            RefusalCode.INVALID_TRANSITION,
            f"{cmd.type}: application {application.id} has no open offer",
        )
    if offer.expires_at is not None and offer.expires_at <= ctx.now:
        raise Refused(
            RefusalCode.OFFER_EXPIRED,
            f"offer version {offer.version} expired at {offer.expires_at.isoformat()}",
        )
    offer.status = cmd.response
    offer.response_reason = cmd.reason
    offer.responded_at = ctx.now
    change(
        session, ctx, application, target, f"application.offer_{cmd.response}", reason=cmd.reason
    )
    if cmd.response == "declined":
        cancel_pending_mail(session, ctx, application.id)
        cancel_interviews(session, ctx, application.id)
    publish_event(
        session,
        OfferResponded(
            occurred_at=ctx.now,
            organisation_id=ctx.organisation_id,
            application_id=application.id,
            offer_id=offer.id,
            response=cmd.response,
            command_id=ctx.command_id,
        ),
    )

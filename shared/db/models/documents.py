"""Stored documents (CVs, contracts, letters, anonymized profiles) and the assets
their templates may show (an organisation's logo)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import ForeignKey, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base
from shared.db.types import UTCDateTime, utcnow
from shared.ids import new_id


class Document(Base):
    """One stored file. Its bytes live in the document store under ``storage_key``.

    A rendered document belongs to the job that rendered it (``job_id`` is unique), so a
    redelivered job finds it instead of rendering again. ``version`` counts the
    application's documents of one purpose: the second contract is version 2.
    """

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("application_id", "purpose", "version"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    application_id: Mapped[UUID | None] = mapped_column(index=True)
    job_id: Mapped[UUID | None] = mapped_column(unique=True)
    command_id: Mapped[UUID | None]
    kind: Mapped[str] = mapped_column(String(20))  # cv | contract | letter | profile
    purpose: Mapped[str] = mapped_column(String(40))  # contract | letter_rejected | ...
    version: Mapped[int] = mapped_column(default=1)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(512))
    locale: Mapped[str | None] = mapped_column(String(2))
    pages: Mapped[int | None]
    # "builtin" or "organisation v3": which template, so that a document can be explained.
    template_version: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class OrganisationAsset(Base):
    """An image an organisation's documents may show, as ``asset:<name>`` (its logo).

    Kept in the database, checked when uploaded: the PDF renderer reads assets from
    here and nothing else."""

    __tablename__ = "organisation_assets"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(40))
    content_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DocumentTemplate(Base):
    """An organisation's own body for one kind of document in one locale (the page frame,
    letterhead and page numbers stay werving's)."""

    __tablename__ = "document_templates"
    __table_args__ = (UniqueConstraint("organisation_id", "purpose", "locale"),)

    id: Mapped[UUID] = mapped_column(primary_key=True, default=new_id)
    organisation_id: Mapped[UUID] = mapped_column(ForeignKey("organisations.id"))
    purpose: Mapped[str] = mapped_column(String(40))
    locale: Mapped[str] = mapped_column(String(2))
    html: Mapped[str] = mapped_column(Text)
    version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

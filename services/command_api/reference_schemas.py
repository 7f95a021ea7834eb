"""Departments, positions and rejection reasons: what the API takes and answers with."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, Field

from shared.commands.base import Contract
from shared.commands.fields import Name, RejectionType


class DepartmentIn(Contract):
    name: Name


class DepartmentView(BaseModel):
    id: UUID
    name: str
    created_at: datetime


class DepartmentList(BaseModel):
    items: list[DepartmentView]


class PositionIn(Contract):
    title: Name
    department_id: UUID = Field(description="A department of the caller's organisation.")


class PositionView(BaseModel):
    id: UUID
    title: str
    department_id: UUID
    created_at: datetime


class PositionList(BaseModel):
    items: list[PositionView]


class RejectionReasonIn(Contract):
    rejection_type: RejectionType
    label_nl: Name
    label_en: Name


class RejectionReasonLabels(Contract):
    """A reason's wording; its type stays, since past rejections were of that type."""

    label_nl: Name
    label_en: Name


class RejectionReasonView(BaseModel):
    id: UUID
    rejection_type: RejectionType
    label_nl: str
    label_en: str
    active: bool = Field(
        description="Inactive reasons stay on past rejections but are not offered."
    )
    created_at: datetime


class RejectionReasonList(BaseModel):
    items: list[RejectionReasonView]

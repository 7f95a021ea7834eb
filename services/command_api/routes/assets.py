"""``/v1/assets/logo``: the image on the letterhead of the organisation's documents.

Uploaded as the request body with its image type; checked by its bytes, not only by
the header; kept in the database, where the PDF renderer reads it from (``asset:logo``).
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from fastapi import APIRouter, Body, Depends, Header
from fastapi.responses import JSONResponse
from fastapi.responses import Response as HttpResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.command_api.api_keys import Principal, Scope
from services.command_api.deps import DatabaseDep, IdempotencyKeyDep, SettingsDep, require
from services.command_api.idempotency import Response
from services.command_api.problems import invalid_field, not_found
from services.command_api.responses import NOT_FOUND
from services.command_api.writes import write_once
from shared.db.models import OrganisationAsset
from shared.db.types import utcnow
from shared.ids import new_id

router = APIRouter(prefix="/v1/assets", tags=["documents"])
WriterDep = Annotated[Principal, Depends(require(Scope.DOCUMENTS_WRITE))]
ReaderDep = Annotated[Principal, Depends(require(Scope.DOCUMENTS_READ))]
AssetName = Literal["logo"]

MAX_ASSET_BYTES: Final = 512 * 1024
# What each allowed type starts with: the upload must be what it says it is.
SIGNATURES: Final = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
_IMAGE: Final[dict[int | str, dict[str, Any]]] = {
    200: {"content": {t: {} for t in SIGNATURES}, "description": "The image"}
}


class AssetDeleted(BaseModel):
    name: str
    deleted: bool = Field(description="False when there was none.")


class AssetView(BaseModel):
    name: str
    content_type: str
    size_bytes: int
    sha256: str
    updated_at: datetime


def _view(asset: OrganisationAsset) -> AssetView:
    return AssetView(
        name=asset.name,
        content_type=asset.content_type,
        size_bytes=len(asset.data),
        sha256=asset.sha256,
        updated_at=asset.updated_at,
    )


def _find(session: Session, principal: Principal, name: str) -> OrganisationAsset | None:
    return session.scalar(
        select(OrganisationAsset).where(
            OrganisationAsset.organisation_id == principal.organisation_id,
            OrganisationAsset.name == name,
        )
    )


def checked_image(content_type: str, data: bytes) -> str:
    """The image's type, when ``data`` is an allowed image of that type and size."""
    media_type = content_type.split(";")[0].strip().lower()
    if media_type not in SIGNATURES:
        allowed = ", ".join(SIGNATURES)
        raise invalid_field("content-type", "unsupported_type", f"must be one of {allowed}")
    if not data:
        raise invalid_field("body", "empty", "the image is empty")
    if len(data) > MAX_ASSET_BYTES:
        raise invalid_field("body", "too_large", f"larger than {MAX_ASSET_BYTES // 1024} KB")
    if not data.startswith(SIGNATURES[media_type]):
        raise invalid_field("body", "not_an_image", f"the bytes are not a {media_type} image")
    return media_type


@router.put(
    "/{name}",
    response_model=AssetView,
    responses={201: {"model": AssetView, "description": "Created"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in SIGNATURES},
        }
    },
)
def put_asset(
    name: AssetName,
    data: Annotated[bytes, Body(media_type="image/png")],
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
    content_type: Annotated[str, Header()] = "",
) -> JSONResponse:
    """Upload the logo (PNG or JPEG, at most 512 KB): `201` the first time, then `200`."""
    media_type = checked_image(content_type, data)
    digest = hashlib.sha256(data).hexdigest()

    def produce(session: Session) -> Response:
        asset = _find(session, principal, name)
        created = asset is None
        if asset is None:
            asset = OrganisationAsset(
                id=new_id(), organisation_id=principal.organisation_id, name=name
            )
            session.add(asset)
        asset.content_type, asset.data, asset.sha256 = media_type, data, digest
        asset.updated_at = utcnow()
        return Response(201 if created else 200, _view(asset).model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"PUT /v1/assets/{name}",
        body={"content_type": media_type, "sha256": digest},
        produce=produce,
        location=lambda _body: f"/v1/assets/{name}",
    )


@router.get("/{name}", response_class=HttpResponse, responses={**_IMAGE, **NOT_FOUND})
def get_asset(name: AssetName, principal: ReaderDep, db: DatabaseDep) -> HttpResponse:
    with db.transaction() as session:
        asset = _find(session, principal, name)
        if asset is None:
            raise not_found("asset", name)
        return HttpResponse(
            asset.data,
            media_type=asset.content_type,
            headers={"ETag": f'"{asset.sha256}"', "X-Content-Type-Options": "nosniff"},
        )


@router.delete("/{name}", response_model=AssetDeleted)
def delete_asset(
    name: AssetName,
    principal: WriterDep,
    key: IdempotencyKeyDep,
    db: DatabaseDep,
    settings: SettingsDep,
) -> JSONResponse:
    """Documents rendered from now on show no logo; stored ones keep theirs."""

    def produce(session: Session) -> Response:
        asset = _find(session, principal, name)
        if asset is not None:
            session.delete(asset)
        deleted = AssetDeleted(name=name, deleted=asset is not None)
        return Response(200, deleted.model_dump(mode="json"))

    return write_once(
        db,
        settings,
        principal,
        key,
        request=f"DELETE /v1/assets/{name}",
        body={},
        produce=produce,
        location=lambda _body: f"/v1/assets/{name}",
    )

"""Writing every contract document (OpenAPI, AsyncAPI, JSON Schema) to a directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from services.command_api.app import create_app
from shared.contracts import asyncapi, json_schemas
from shared.db.database import Database
from shared.settings import Settings


def contract_documents(settings: Settings) -> dict[str, Any]:
    """Relative path -> document, all generated from the code."""
    app = create_app(settings, Database("sqlite://"))  # never connects: only the schema is read
    documents: dict[str, Any] = {
        "openapi.json": app.openapi(),
        "asyncapi.json": asyncapi(settings),
    }
    documents.update({f"schemas/{name}": schema for name, schema in json_schemas().items()})
    return documents


def render(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def export(directory: Path, settings: Settings) -> list[Path]:
    written = []
    for relative, document in contract_documents(settings).items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written

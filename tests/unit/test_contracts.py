"""The published contracts are generated from the code and kept in docs/contracts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from services.contracts_export import contract_documents, render
from shared.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "contracts"
DOCUMENTS = contract_documents(
    Settings(events_exchange="werving.events", ingress_queue="werving.commands")
)


@pytest.mark.parametrize("relative", sorted(DOCUMENTS))
def test_the_committed_contract_equals_the_generated_one(relative: str) -> None:
    committed = DOCS / relative
    assert committed.exists(), f"run `make contracts` to write {relative}"
    assert committed.read_text(encoding="utf-8") == render(DOCUMENTS[relative]), (
        f"docs/contracts/{relative} is stale: run `make contracts`"
    )


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_every_reference_in_the_asyncapi_document_resolves() -> None:
    document = json.loads(render(DOCUMENTS["asyncapi.json"]))
    for ref in _refs(document):
        node: Any = document
        for part in ref.removeprefix("#/").split("/"):
            node = node[part]
        assert node, ref


def test_the_asyncapi_document_lists_every_event_and_the_ingress_queue() -> None:
    channels = DOCUMENTS["asyncapi.json"]["channels"]
    addresses = {c["address"] for c in channels.values()}
    assert {
        "werving.commands",
        "{organisationId}.application.status_changed",
        "{organisationId}.command.completed",
        "{organisationId}.command.refused",
    } <= addresses

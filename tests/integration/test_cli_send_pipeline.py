"""``werving send --wait``: a command from a file, through the real relay and worker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.db.database import Database
from tests.conftest import make_tenant
from tests.factories import new_key, open_vacancy, register_body
from tests.processes import run_werving

pytestmark = pytest.mark.integration


@pytest.mark.usefixtures("relay_process", "worker_process")
def test_a_command_sent_from_a_file_waits_for_and_prints_its_outcome(
    pg: Database, env: dict[str, str], tmp_path: Path
) -> None:
    org = make_tenant(pg).organisation_id
    envelope = {"idempotency_key": new_key(), "command": register_body(open_vacancy(pg, org))}
    path = tmp_path / "register.json"
    path.write_text(json.dumps(envelope))

    sent = run_werving(env, "send", str(path), "--org", str(org), "--wait", "30")

    assert sent.returncode == 0, sent.stderr
    accepted, outcome = (json.loads(line) for line in sent.stdout.splitlines())
    assert accepted["status"] == "accepted" and accepted["application_id"]
    assert outcome["status"] == "succeeded"

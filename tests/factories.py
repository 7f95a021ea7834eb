"""Request bodies and database rows for tests, with unique values per call."""

from __future__ import annotations

import uuid
from typing import Any

from shared.db.database import Database
from shared.db.models import Vacancy


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


def open_vacancy(db: Database, organisation_id: uuid.UUID, title: str = "Nurse") -> uuid.UUID:
    with db.transaction() as session:
        vacancy = Vacancy(organisation_id=organisation_id, title=title)
        session.add(vacancy)
        session.flush()
        return vacancy.id


def register_body(vacancy_id: uuid.UUID | str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "register_application",
        "vacancy_id": str(vacancy_id),
        "applicant": {"name": "Ann de Vries", "email": f"ann-{uuid.uuid4().hex[:6]}@example.org"},
        "application_text": "I would love to work with you.",
        "screening_answers": [{"question": "Driving licence?", "answer": "Yes"}],
    }
    body.update(overrides)
    return body


def withdraw_body(application_id: object, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": "withdraw_application",
        "application_id": str(application_id),
        "reason": "Accepted another offer",
    }
    body.update(overrides)
    return body

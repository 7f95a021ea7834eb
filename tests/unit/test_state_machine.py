"""A Hypothesis state machine: random sequences of every status command on several
applications and vacancies, checked against a model of the spec after every step."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)
from sqlalchemy import func, select

from shared.db.base import Base
from shared.db.database import Database
from shared.db.models import Application, CommandRecord, Employee, OutboxMessage, Vacancy
from shared.statuses import ApplicationStatus as S
from tests.conftest import fresh_sqlite, make_tenant
from tests.seeds import seed_reference
from tests.workflow import run

ACTIVE = {S.RECEIVED, S.INTERVIEW, S.OFFERED, S.SAVED}
LATER = (datetime.now(UTC) + timedelta(days=10)).isoformat()
START = (datetime.now(UTC) + timedelta(days=40)).date().isoformat()

# command -> statuses it is allowed from (spec.md); the deleted flag is handled apart.
ALLOWED: dict[str, set[S]] = {
    "withdraw_application": ACTIVE,
    "delete_application": set(S) - {S.HIRED},
    "invite_to_interview": {S.RECEIVED, S.INTERVIEW, S.SAVED},
    "reject_application": ACTIVE,
    "unreject_application": {S.REJECTED},
    "save_application": {S.RECEIVED, S.INTERVIEW},
    "save_and_send_credentials": {S.RECEIVED, S.INTERVIEW, S.SAVED},
    "transfer_application": ACTIVE,
    "send_offer": {S.RECEIVED, S.INTERVIEW, S.SAVED, S.OFFERED},
    "record_offer_response": {S.OFFERED},
    "hire_applicant": ACTIVE,
    "send_email": set(S) - {S.TRANSFERRED},
    "forward_cv": set(S) - {S.TRANSFERRED},
    "send_letter": set(S) - {S.TRANSFERRED},
}
MAX_APPLICATIONS = 4
APPLICATION_COMMANDS = sorted([*ALLOWED, "restore_application", "purge_application"])

_DB: Database | None = None


@pytest.fixture(scope="module", autouse=True)
def state_machine_db(
    migrated_sqlite: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    global _DB
    _DB = Database(fresh_sqlite(migrated_sqlite, tmp_path_factory.mktemp("stateful")))
    yield
    _DB.dispose()
    _DB = None


@dataclass
class ModelApplication:
    applicant: int
    vacancy: int
    status: S = S.RECEIVED
    before: S | None = None
    deleted: bool = False
    purged: bool = False
    offer_open: bool = False
    canary: str = field(default_factory=lambda: f"canary-{uuid.uuid4().hex}")

    def move(self, status: S) -> None:
        if status != self.status:
            self.before, self.status = self.status, status


@dataclass
class ModelApplicant:
    canary: str
    employed: bool = False
    erased: bool = False


class RecruiterActions(RuleBasedStateMachine):
    applications = Bundle("applications")

    def __init__(self) -> None:
        super().__init__()
        assert _DB is not None
        self.db = _DB
        self.apps: dict[uuid.UUID, ModelApplication] = {}
        self.applicants: dict[int, ModelApplicant] = {}
        self.applicant_ids: dict[int, uuid.UUID] = {}
        self.open_vacancies: list[bool] = []

    @initialize()
    def organisation(self) -> None:
        self.tenant = make_tenant(self.db)
        self.ref = seed_reference(self.db, self.tenant.organisation_id)
        self.vacancies = [self.ref.vacancy_id, self.ref.other_vacancy_id]
        self.open_vacancies = [True, True]
        with self.db.transaction() as session:
            closed = Vacancy(
                organisation_id=self.tenant.organisation_id, title="Closed", is_open=False
            )
            session.add(closed)
            session.flush()
            self.vacancies.append(closed.id)
        self.open_vacancies.append(False)

    def _run(self, body: dict[str, Any]) -> CommandRecord:
        return run(self.db, self.tenant.organisation_id, body)

    # -- registering ------------------------------------------------------------------

    @precondition(lambda self: len(self.apps) < MAX_APPLICATIONS)
    @rule(target=applications, vacancy=st.integers(0, 2))
    def register_new_applicant(self, vacancy: int) -> Any:
        applicant = len(self.applicants)
        person = ModelApplicant(canary=f"canary-{uuid.uuid4().hex}")
        model = ModelApplication(applicant=applicant, vacancy=vacancy)
        record = self._run(
            {
                "type": "register_application",
                "vacancy_id": str(self.vacancies[vacancy]),
                "applicant": {"name": person.canary, "email": f"{person.canary}@example.org"},
                "application_text": model.canary,
            }
        )
        if not self.open_vacancies[vacancy]:
            assert (record.status, record.outcome_code) == ("rejected", "vacancy_closed")
            return multiple()
        assert record.status == "succeeded", record.outcome_message
        assert record.application_id is not None
        self.applicants[applicant] = person
        with self.db.transaction() as session:
            self.applicant_ids[applicant] = session.scalars(
                select(Application.applicant_id).where(Application.id == record.application_id)
            ).one()
        self.apps[record.application_id] = model
        return record.application_id

    @precondition(lambda self: self.applicants and len(self.apps) < MAX_APPLICATIONS)
    @rule(target=applications, data=st.data(), vacancy=st.integers(0, 2))
    def register_existing_applicant(self, data: st.DataObject, vacancy: int) -> Any:
        applicant = data.draw(st.sampled_from(sorted(self.applicants)))
        person = self.applicants[applicant]
        record = self._run(
            {
                "type": "register_application",
                "vacancy_id": str(self.vacancies[vacancy]),
                "applicant_id": str(self.applicant_ids[applicant]),
            }
        )
        taken = any(
            a.applicant == applicant and a.vacancy == vacancy and not a.purged
            for a in self.apps.values()
        )
        if not self.open_vacancies[vacancy]:  # the vacancy is checked first
            assert (record.status, record.outcome_code) == ("rejected", "vacancy_closed")
        elif person.erased:
            assert (record.status, record.outcome_code) == ("rejected", "not_found")
        elif taken:
            assert (record.status, record.outcome_code) == ("rejected", "already_applied")
        else:
            assert record.status == "succeeded", record.outcome_message
            assert record.application_id is not None
            self.apps[record.application_id] = ModelApplication(
                applicant=applicant, vacancy=vacancy
            )
            return record.application_id
        return multiple()

    # -- acting on an application -------------------------------------------------------

    @rule(
        target=applications,
        application=applications,
        command=st.sampled_from(APPLICATION_COMMANDS),
        variant=st.booleans(),
        vacancy=st.integers(0, 2),
    )
    def act(self, application: uuid.UUID, command: str, variant: bool, vacancy: int) -> Any:
        model = self.apps[application]
        body = self._body(command, variant, vacancy)
        record = self._run({"type": command, "application_id": str(application), **body})
        expected = self._expected_refusal(model, command, body, vacancy)
        if expected is not None:
            assert (record.status, record.outcome_code) == ("rejected", expected), (
                command,
                model,
                record.outcome_message,
            )
            return multiple()
        assert record.status == "succeeded", (command, model, record.outcome_message)
        return self._apply(application, model, command, body, vacancy, record)

    @rule(
        target=applications,
        application=applications,
        command=st.sampled_from(
            [
                "delete_application",
                "restore_application",
                "purge_application",
                "withdraw_application",
            ]
        ),
    )
    def delete_restore_or_purge(self, application: uuid.UUID, command: str) -> Any:
        """Weighs the rarer lifecycle sequences (delete, then purge) up."""
        return self.act(application, command, variant=False, vacancy=0)

    def _body(self, command: str, variant: bool, vacancy: int) -> dict[str, Any]:
        ref = self.ref
        bodies: dict[str, dict[str, Any]] = {
            "send_email": {
                "subject": "Update",
                "text": "Hello",
                "send_at": LATER if variant else None,
            },
            "forward_cv": {"to": ["manager@example.org"], "anonymize": variant},
            "send_letter": {"letter": "received" if variant else "rejected", "channel": "email"},
            "invite_to_interview": {
                "interview_type": "phone",
                "start": LATER,
                "duration_minutes": 30,
            },
            "reject_application": {
                "rejection_type": "by_company",
                "reason_id": str(ref.reason_id),
                "email": {"send_at": LATER} if variant else None,
            },
            "transfer_application": {
                "target_vacancy_id": str(self.vacancies[vacancy]),
                "mode": "move" if variant else "copy",
            },
            "send_offer": {
                "salary": {"amount": "4000.00", "currency": "EUR", "period": "month"},
                "start_date": START,
            },
            "record_offer_response": {"response": "accepted" if variant else "declined"},
            "hire_applicant": {
                "position_id": str(ref.position_id),
                "department_id": str(ref.department_id),
                "start_date": START,
                "withdraw_other_applications": variant,
            },
        }
        return bodies.get(command, {})

    def _expected_refusal(
        self, model: ModelApplication, command: str, body: dict[str, Any], vacancy: int
    ) -> str | None:
        if model.purged:
            return "not_found"
        if command in ("restore_application", "purge_application"):
            return None if model.deleted else "invalid_transition"
        if model.deleted:
            return "deleted"
        if model.status not in ALLOWED[command]:
            return "invalid_transition"
        if command == "transfer_application":
            if not self.open_vacancies[vacancy]:
                return "vacancy_closed"
            taken = any(
                a.applicant == model.applicant and a.vacancy == vacancy and not a.purged
                for a in self.apps.values()
            )
            return "already_applied" if taken else None
        if command == "record_offer_response" and not model.offer_open:
            return "invalid_transition"
        if command == "hire_applicant" and self.applicants[model.applicant].employed:
            return "invalid_transition"
        return None

    def _apply(
        self,
        application: uuid.UUID,
        model: ModelApplication,
        command: str,
        body: dict[str, Any],
        vacancy: int,
        record: CommandRecord,
    ) -> Any:
        if command == "withdraw_application":
            model.move(S.WITHDRAWN)
        elif command == "delete_application":
            model.deleted = True
        elif command == "restore_application":
            model.deleted = False
        elif command == "purge_application":
            model.purged = True
            person = self.applicants[model.applicant]
            person.erased = not any(
                a.applicant == model.applicant and not a.purged for a in self.apps.values()
            )
        elif command == "invite_to_interview":
            model.move(S.INTERVIEW)
        elif command == "reject_application":
            model.move(S.REJECTED)
        elif command == "unreject_application":
            assert model.before is not None
            model.move(model.before)
        elif command in ("save_application", "save_and_send_credentials"):
            model.move(S.SAVED)
        elif command == "send_offer":
            model.move(S.OFFERED)
            model.offer_open = True
        elif command == "record_offer_response":
            model.offer_open = False
            if body["response"] == "declined":
                model.move(S.WITHDRAWN)
        elif command == "hire_applicant":
            model.move(S.HIRED)
            self.applicants[model.applicant].employed = True
            if body["withdraw_other_applications"]:
                for other_id, other in self.apps.items():
                    if (
                        other_id != application
                        and other.applicant == model.applicant
                        and not other.deleted
                        and not other.purged
                        and other.status in ACTIVE
                    ):
                        other.move(S.WITHDRAWN)
        elif command == "transfer_application":
            if body["mode"] == "move":
                model.move(S.TRANSFERRED)
            assert record.result is not None
            new_id = uuid.UUID(record.result["new_application_id"])
            self.apps[new_id] = ModelApplication(applicant=model.applicant, vacancy=vacancy)
            return new_id
        return multiple()

    # -- invariants ---------------------------------------------------------------------

    @invariant()
    def the_database_equals_the_model(self) -> None:
        if not self.open_vacancies:
            return
        with self.db.transaction() as session:
            rows = session.execute(
                select(Application.id, Application.status, Application.deleted_at).where(
                    Application.organisation_id == self.tenant.organisation_id
                )
            ).all()
        actual = {r.id: (S(r.status), r.deleted_at is not None) for r in rows}
        expected = {
            app_id: (m.status, m.deleted) for app_id, m in self.apps.items() if not m.purged
        }
        assert actual == expected

    @invariant()
    def a_purged_application_leaves_no_personal_data(self) -> None:
        """Canary search over every column of every table (this organisation's rows)."""
        canaries = [m.canary for m in self.apps.values() if m.purged]
        canaries += [p.canary for p in self.applicants.values() if p.erased]
        if not canaries:
            return
        with self.db.transaction() as session:
            for table in Base.metadata.sorted_tables:
                query = table.select()
                if "organisation_id" in table.c:
                    query = query.where(table.c.organisation_id == self.tenant.organisation_id)
                elif table.name == "organisations":
                    query = query.where(table.c.id == self.tenant.organisation_id)
                for row in session.execute(query).all():
                    flat = " ".join(str(v) for v in row)
                    for canary in canaries:
                        assert canary not in flat, f"{canary} left in {table.name}"

    @invariant()
    def a_hired_applicant_has_exactly_one_employee_row(self) -> None:
        if not self.open_vacancies:
            return
        with self.db.transaction() as session:
            counts = dict(
                session.execute(
                    select(Employee.applicant_id, func.count())
                    .where(Employee.organisation_id == self.tenant.organisation_id)
                    .group_by(Employee.applicant_id)
                ).all()
            )
        employed = {self.applicant_ids[i] for i, p in self.applicants.items() if p.employed}
        assert counts == dict.fromkeys(employed, 1)

    @invariant()
    def every_accepted_command_has_exactly_one_outcome(self) -> None:
        if not self.open_vacancies:
            return
        with self.db.transaction() as session:
            open_commands = session.scalar(
                select(func.count())
                .select_from(CommandRecord)
                .where(
                    CommandRecord.organisation_id == self.tenant.organisation_id,
                    CommandRecord.status == "accepted",
                )
            )
            completed = Counter(
                payload["command_id"]
                for payload in session.scalars(
                    select(OutboxMessage.payload).where(
                        OutboxMessage.organisation_id == self.tenant.organisation_id,
                        OutboxMessage.destination == "command.completed",
                    )
                )
            )
            total = session.scalar(
                select(func.count())
                .select_from(CommandRecord)
                .where(CommandRecord.organisation_id == self.tenant.organisation_id)
            )
        assert open_commands == 0
        assert set(completed.values()) <= {1}
        assert len(completed) == total


RecruiterActions.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_recruiter_actions_follow_the_spec = RecruiterActions.TestCase

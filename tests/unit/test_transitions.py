"""The transition table: pure, so every status can be checked directly."""

from __future__ import annotations

import pytest

from services.status_worker.transitions import next_status
from shared.errors import RefusalCode, Refused
from shared.statuses import ACTIVE_STATUSES, ApplicationStatus


@pytest.mark.parametrize("status", sorted(ACTIVE_STATUSES))
def test_an_active_application_can_be_withdrawn(status: ApplicationStatus) -> None:
    assert next_status("withdraw_application", status) is ApplicationStatus.WITHDRAWN


@pytest.mark.parametrize("status", sorted(set(ApplicationStatus) - ACTIVE_STATUSES))
def test_an_inactive_application_cannot_be_withdrawn(status: ApplicationStatus) -> None:
    with pytest.raises(Refused) as caught:
        next_status("withdraw_application", status)
    assert caught.value.code is RefusalCode.INVALID_TRANSITION
    assert "withdraw_application" in caught.value.message
    assert f"'{status}'" in caught.value.message

"""The fault matrix runs on both stores: SIGKILLs, cuts and restarts on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest
from _postgres_fixture import BOTH_STORES


@pytest.fixture(scope="module", params=BOTH_STORES)
def backend_store(request: pytest.FixtureRequest) -> str:
    return str(request.param)

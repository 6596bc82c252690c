"""The backend suite runs on both stores: every test once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import pytest
from _postgres_fixture import BOTH_STORES


@pytest.fixture(scope="module", params=BOTH_STORES)
def backend_store(request: pytest.FixtureRequest) -> str:
    return str(request.param)

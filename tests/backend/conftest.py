"""The backend suite runs on both stores: every test once on SQLite and once on PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend_store(request: pytest.FixtureRequest) -> str:
    return str(request.param)

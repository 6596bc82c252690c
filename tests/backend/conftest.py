"""The backend suite runs on both stores: every test once on SQLite and once on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from _postgres_fixture import BOTH_STORES


@pytest.fixture(scope="module", params=BOTH_STORES)
def backend_store(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def store_url(request: pytest.FixtureRequest, backend_store: str, tmp_path: Path) -> str:
    """A fresh database of this test's store, for tests that open a `Store` themselves."""
    if backend_store == "sqlite":
        return f"sqlite://{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_server").new_database())

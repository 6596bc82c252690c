"""Shared fixtures: a real backend process (see tests/_backend_fixture.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _backend_fixture import BackendProcess  # noqa: E402


@pytest.fixture(scope="module")
def flyte_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    """One backend per test module, on a free loopback port; the SDK is pointed at it."""
    backend = BackendProcess(tmp_path_factory.mktemp("flyte-backend"))
    with backend:
        backend.use()
        yield backend
    import flyte_jupyter as flyte

    flyte.init()  # back to local mode for whatever runs next


@pytest.fixture
def backend_factory(tmp_path: Path) -> Iterator[Any]:
    """Make backends of your own (crash tests, custom flags); all are stopped afterwards."""
    made: list[BackendProcess] = []

    def make(**kwargs: Any) -> BackendProcess:
        backend = BackendProcess(kwargs.pop("data_dir", tmp_path / f"backend{len(made)}"), **kwargs)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.stop()
        backend.kill_actions()

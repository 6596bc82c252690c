"""Shared fixtures: a real backend process (see tests/_backend_fixture.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _backend_fixture import BackendProcess  # noqa: E402


@pytest.fixture(scope="module")
def flyte_backend_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    """One backend process per test module, on a free loopback port."""
    backend = BackendProcess(tmp_path_factory.mktemp("flyte-backend"))
    with backend:
        yield backend


@pytest.fixture
def flyte_backend(flyte_backend_process: BackendProcess) -> Iterator[BackendProcess]:
    """The module's backend, with the SDK pointed at it for this test (local mode afterwards)."""
    import flyte_jupyter as flyte

    flyte_backend_process.use()
    yield flyte_backend_process
    flyte.init()


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

"""Shared fixtures: a real backend process (see tests/_backend_fixture.py) and the database it keeps
its state in: SQLite by default; `tests/backend/conftest.py` parametrizes `backend_store` so the
backend suite runs on PostgreSQL too (a real server, tests/_postgres_fixture.py)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from _backend_fixture import BackendProcess  # noqa: E402
from _postgres_fixture import PostgresServer  # noqa: E402
from _s3_fixture import S3Server  # noqa: E402

# The kinds of test that share one costly server per session (the kube-apiserver, a private dockerd,
# JupyterLab under Chromium): under pytest-xdist each kind stays on one worker, so it starts once.
_SESSION_SERVER_KINDS = ("k8s", "docker", "browser")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Group tests for `pytest -n N --dist loadgroup` (what `.ci/run` runs): a module goes to one worker
    whole, so its module-scoped backend starts once, and so does each session server kind. Without
    xdist the marker is inert. It runs first: xdist's own hook (at normal priority) reads the groups
    into the test ids, so a group added after it is ignored and tests/k8s/conftest.py's hook (also
    first, and called before this one) must have marked the Kubernetes tests by then."""
    for item in items:
        if item.get_closest_marker("xdist_group"):
            continue
        kind = next((k for k in _SESSION_SERVER_KINDS if item.get_closest_marker(k)), None)
        item.add_marker(pytest.mark.xdist_group(kind or item.nodeid.split("::")[0]))


@pytest.fixture(scope="session", autouse=True)
def _temp_files_in_pytests_base_temp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """`$TMPDIR` (and so `tempfile` here and in every backend, action, kernel and program a test
    starts) is a directory of this session's base temp, which pytest prunes: task code in the tests
    that makes temp dirs (markers, files to upload) leaves nothing in /tmp."""
    saved = os.environ.get("TMPDIR")
    os.environ["TMPDIR"] = str(tmp_path_factory.mktemp("tmp"))
    tempfile.tempdir = None  # computed again from $TMPDIR
    yield
    if saved is None:
        os.environ.pop("TMPDIR", None)
    else:
        os.environ["TMPDIR"] = saved
    tempfile.tempdir = None


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One PostgreSQL server for the session (each backend gets a database of its own)."""
    with PostgresServer() as server:
        yield server


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """One S3 API server (moto) for the session; tests make buckets of their own."""
    with S3Server() as server:
        yield server


@pytest.fixture(scope="module")
def backend_store() -> str:
    """Where backends keep their state: "sqlite" here, parametrized where a suite runs on both."""
    return "sqlite"


def _store_url(request: pytest.FixtureRequest, store: str) -> str | None:
    if store == "sqlite":
        return None
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.new_database()


@pytest.fixture(scope="module")
def flyte_backend_process(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest,
                          backend_store: str) -> Iterator[BackendProcess]:
    """One backend process per test module, on a free loopback port."""
    backend = BackendProcess(tmp_path_factory.mktemp("flyte-backend"), store_url=_store_url(request, backend_store))
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
def new_store_url(request: pytest.FixtureRequest, backend_store: str) -> Callable[[], str | None]:
    """A fresh database for one more backend of this test (None: SQLite in its data dir)."""
    return lambda: _store_url(request, backend_store)


@pytest.fixture
def backend_factory(tmp_path: Path, new_store_url: Callable[[], str | None]) -> Iterator[Any]:
    """Make backends of your own (crash tests, custom flags); all are stopped afterwards."""
    made: list[BackendProcess] = []

    def make(**kwargs: Any) -> BackendProcess:
        kwargs.setdefault("store_url", new_store_url())
        backend = BackendProcess(kwargs.pop("data_dir", tmp_path / f"backend{len(made)}"), **kwargs)
        made.append(backend)
        return backend

    yield make
    for backend in made:
        backend.stop()
        backend.kill_actions()

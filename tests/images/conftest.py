"""Shared fixtures for the image tests: one image home per session, so venvs are built once; one
private Docker engine per session for the tests marked `docker`."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

from flyte_jupyter._internal.imagebuild.cache import ENV_HOME, ImageCache

from .docker_engine import Engine, EngineUnavailable, start_engine
from .packages import PKG_A, PKG_B  # noqa: F401  (re-exported for the tests)

FIXTURES = Path(__file__).parent / "fixtures"
EXPECTED = Path(__file__).parent / "expected"


@pytest.fixture(scope="session")
def session_image_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("image-home")


@pytest.fixture
def image_home(session_image_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The session's image home, also set as $FLYTE_JUPYTER_IMAGE_HOME for code and subprocesses."""
    monkeypatch.setenv(ENV_HOME, str(session_image_home))
    return session_image_home


@pytest.fixture
def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty image home of this test alone."""
    home = tmp_path / "images"
    monkeypatch.setenv(ENV_HOME, str(home))
    return home


@pytest.fixture
def cache(image_home: Path) -> ImageCache:
    return ImageCache(image_home / "cache.sqlite")


# --------------------------------------------------------------------------- a real Docker engine


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[Engine]:
    """One private dockerd + registry per test session (see docker_engine.py); skipped, with the
    reason, only when this machine cannot start one."""
    try:
        engine = start_engine()
    except EngineUnavailable as exc:
        pytest.skip(f"no Docker engine: {exc}")
    try:
        yield engine
    finally:
        engine.stop()


@pytest.fixture
def docker_host(docker_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> Engine:
    """The session's engine, reached through $DOCKER_HOST by the code under test and its subprocesses."""
    monkeypatch.setenv("DOCKER_HOST", docker_engine.host)
    return docker_engine

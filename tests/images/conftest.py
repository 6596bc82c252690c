"""Shared fixtures for the image tests: one image home per session, so venvs are built once."""

from __future__ import annotations

from pathlib import Path

import pytest

from flyte_jupyter._internal.imagebuild.cache import ENV_HOME, ImageCache

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

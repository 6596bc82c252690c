"""pytest-jupyter fixtures for the server extension's tests: a real Jupyter server with the
flyte_jupyter extension, notebooks written with nbformat, and a real backend where needed.

The fixtures are imported rather than enabled with `pytest_plugins`: pytest refuses that in a
conftest below the rootdir, and keeping them here leaves the browser test free of pytest-jupyter's
autouse event-loop fixtures (Playwright's sync API runs its own loop).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Callable

import _jupyter_loop
import nbformat
import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403  (jp_fetch, jp_ws_fetch, jp_serverapp, ...)

jp_asyncio_loop = _jupyter_loop.jp_asyncio_loop  # replaces pytest-jupyter's: the current loop (see there)

DEMO_NOTEBOOK = Path(__file__).resolve().parents[3] / "examples" / "binder_demo.ipynb"


@pytest.fixture
def flyte_config() -> dict[str, Any]:
    """FlyteJupyter traits for the server under test; tests that need a backend override it."""
    return {"start_embedded": False}


@pytest.fixture
def jp_server_config(flyte_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {
            "jpserver_extensions": {"flyte_jupyter.server_ext": True},
            "allow_unauthenticated_access": False,
        },
        "FlyteJupyter": flyte_config,
    }


@pytest.fixture
def write_notebook(jp_root_dir: Path) -> Callable[..., str]:
    """Write a notebook of code cells (strings) under the server root; returns its API path."""

    def write(name: str, *cells: str, markdown: str | None = None) -> str:
        nb = nbformat.v4.new_notebook()
        if markdown:
            nb.cells.append(nbformat.v4.new_markdown_cell(markdown))
        nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
        path = jp_root_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
        return name

    return write


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real flyte-jupyter backend (its own process, SQLite and file storage in a temp dir),
    stopped by PID at the end of the module."""
    from flyte_jupyter._internal.client import embedded as _embedded

    data_dir = tmp_path_factory.mktemp("backend")
    info = _embedded.start_backend(data_dir, port=0)
    yield info
    _embedded.stop_backend(data_dir)


@pytest.fixture
def demo_notebook(jp_root_dir: Path) -> str:
    """The Binder example notebook, saved under the server root."""
    shutil.copy(DEMO_NOTEBOOK, jp_root_dir / "binder_demo.ipynb")
    return "binder_demo.ipynb"

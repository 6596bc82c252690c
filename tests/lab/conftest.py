"""Fixtures for the JupyterLab side: a real Jupyter server with the flyte_jupyter extension
(pytest-jupyter), notebooks written with nbformat, and a real backend where a test needs one."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import nbformat
import pytest

pytest_plugins = ("pytest_jupyter.jupyter_server",)


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


ROOT = Path(__file__).resolve().parents[2]
DEMO_NOTEBOOK = ROOT / "examples" / "binder_demo.ipynb"


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A real flyte-jupyter backend (its own process, SQLite and file storage in a temp dir),
    stopped by PID at the end of the module."""
    from flyte_jupyter._remote import _embedded

    data_dir = tmp_path_factory.mktemp("backend")
    info = _embedded.start_backend(data_dir, port=0)
    yield info
    _embedded.stop_backend(data_dir)


@pytest.fixture
def demo_notebook(jp_root_dir: Path) -> str:
    """The Binder example notebook, saved under the server root."""
    import shutil

    shutil.copy(DEMO_NOTEBOOK, jp_root_dir / "binder_demo.ipynb")
    return "binder_demo.ipynb"

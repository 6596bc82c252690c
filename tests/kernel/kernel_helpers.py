"""Helpers for running real notebooks (nbclient + a real ipykernel) against flyte_jupyter."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _entry_point_shim(root: Path) -> str | None:
    """When the package is not installed (a plain checkout on PYTHONPATH), give the kernel the
    `flyte_jupyter.display` entry point that `pip install` would have registered."""
    from importlib.metadata import entry_points

    if any(ep.group == "flyte_jupyter.display" for ep in entry_points(group="flyte_jupyter.display")):
        return None
    dist = root / "flyte_jupyter_checkout-0.0.0.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: flyte-jupyter-checkout\nVersion: 0.0.0\n")
    (dist / "entry_points.txt").write_text("[flyte_jupyter.display]\nipython = flyte_jupyter.kernel:render_run\n")
    return str(root)


def make_kernel_env(tmp_path: Path) -> dict[str, str]:
    """Environment of the notebook kernel: this checkout importable, state in a temp dir."""
    data = tmp_path / "data"
    data.mkdir()
    paths = [str(REPO)]
    shim = _entry_point_shim(tmp_path / "shim")
    if shim:
        paths.append(shim)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [env.get("PYTHONPATH")] if p])
    env["FLYTE_JUPYTER_DATA_DIR"] = str(data)
    env.pop("FLYTE_JUPYTER_CONFIG", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def run_notebook(cells: list[str], workdir: Path, env: dict[str, str], *, allow_errors: bool = False,
                 timeout: int = 180) -> Any:
    """Execute the cells in a fresh kernel; returns the executed notebook (outputs and widget state)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", store_widget_state=True,
                            allow_errors=allow_errors, resources={"metadata": {"path": str(workdir)}},
                            startup_timeout=120)
    client.execute(env=env)
    return nb


def run_notebook_on_backend(cells: list[str], tmp: Path, *, timeout: int = 240) -> Any:
    """Execute the cells (errors allowed) in a fresh kernel whose data directory's embedded backend
    is started first on a free port (the kernel would start it on first use, on 8090 when free;
    examples/ and the browser tests cover that path), and stopped afterwards."""
    from flyte_jupyter._internal.client.embedded import start_backend, stop_backend

    env = make_kernel_env(tmp)
    backend_dir = Path(env["FLYTE_JUPYTER_DATA_DIR"]) / "backend"
    start_backend(backend_dir, port=0)
    try:
        return run_notebook(cells, tmp, env, allow_errors=True, timeout=timeout)
    finally:
        stop_backend(backend_dir)

def cell_text(cell: Any) -> str:
    """Everything a cell showed as text: streams, text/plain results, errors (ANSI stripped).
    Consecutive pieces of one stream are joined as the notebook shows them: a `print` can reach
    the kernel's client as two stream messages (its text, then the rest of the line)."""
    parts: list[str] = []
    last_stream = None
    for out in cell.get("outputs", []):
        if out.output_type == "stream" and out.name == last_stream:
            parts[-1] += out.text
            continue
        last_stream = out.name if out.output_type == "stream" else None
        if out.output_type == "stream":
            parts.append(out.text)
        elif out.output_type in ("execute_result", "display_data"):
            parts.append(out.data.get("text/plain", ""))
        elif out.output_type == "error":
            parts.append(f"{out.ename}: {out.evalue}\n" + "\n".join(out.traceback))
    return _ANSI.sub("", "\n".join(parts))


def errors(cell: Any) -> list[Any]:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def widget_states(nb: Any) -> dict[str, Any]:
    """model_id -> {model_name, state} as saved in the notebook's widget metadata."""
    saved = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return saved.get("state", {})


def tree_models(nb: Any) -> list[dict[str, Any]]:
    """The states of the action-tree widgets (those carrying `nodes`), in display order."""
    states = widget_states(nb)
    order: list[str] = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            view = out.get("data", {}).get("application/vnd.jupyter.widget-view+json") if "data" in out else None
            if view:
                order.append(view["model_id"])
    trees = []
    for mid in order:
        root = states.get(mid, {}).get("state", {})
        for child in root.get("children", []):
            ref = child.replace("IPY_MODEL_", "")
            st = states.get(ref, {}).get("state", {})
            if "nodes" in st:
                trees.append(st)
    return trees


python = sys.executable

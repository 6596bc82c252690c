"""examples/notebook_demo.ipynb runs end to end on the embedded backend."""

from __future__ import annotations

from pathlib import Path

import nbformat
from kernel_helpers import REPO, cell_text, errors, make_kernel_env, tree_models


def test_example_notebook_runs(tmp_path: Path) -> None:
    from nbclient import NotebookClient

    path = REPO / "examples" / "notebook_demo.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "commit it with outputs cleared"
    env = make_kernel_env(tmp_path)
    try:
        NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True,
                       resources={"metadata": {"path": str(tmp_path)}}).execute(env=env)
    finally:
        from flyte_jupyter._internal.client.embedded import stop_backend

        stop_backend(Path(env["FLYTE_JUPYTER_DATA_DIR"]) / "backend")
    code = [c for c in nb.cells if c.cell_type == "code"]
    failing = [c for c in code if "raises-exception" in c.metadata.get("tags", [])]
    for cell in code:
        if cell not in failing:
            assert not errors(cell), cell_text(cell)
    texts = [cell_text(c) for c in code]
    assert any(t.strip() == "True" for t in texts)               # local == remote
    assert any("'HI: 30!'" in t for t in texts)
    assert any("the squares are in: hi: 30" in t for t in texts)  # %flyte logs of a0
    assert "ActionFailedError" in cell_text(failing[0]) and "demo.fragile" in cell_text(failing[0])
    trees = tree_models(nb)
    wide = [t for t in trees if t["total"] == 1001]
    assert wide and wide[0]["hidden"] > 900                      # the wide run showed a window

"""`flyte.run(...)` shows the run widget in a notebook without `%load_ext`: the SDK finds the
renderer through the `flyte_jupyter.display` entry point (it never imports the notebook layer)."""

from __future__ import annotations

from pathlib import Path

from kernel_helpers import cell_text, errors, run_notebook, tree_models

CELLS = [
    '''import sys
import flyte_jupyter as flyte
env = flyte.TaskEnvironment("auto")

@env.task
async def hello(name: str) -> str:
    return f"hello {name}"

print("kernel layer imported:", "flyte_jupyter.kernel" in sys.modules)''',
    'flyte.with_runcontext(mode="local", name="auto-run").run(hello, name="you")',
]


def test_run_displays_itself_without_load_ext(tmp_path: Path, kernel_env: dict[str, str]) -> None:
    nb = run_notebook(CELLS, tmp_path, kernel_env)
    assert "kernel layer imported: False" in cell_text(nb.cells[0])
    cell = nb.cells[1]
    assert not errors(cell), cell_text(cell)
    shown = [o for o in cell.outputs if "data" in o and "application/vnd.jupyter.widget-view+json" in o.data]
    assert len(shown) == 1
    assert "Run auto-run (local): SUCCEEDED, 1/1 actions finished" in shown[0].data["text/plain"]
    trees = [t for t in tree_models(nb) if t["run_name"] == "auto-run"]
    assert [(n["task"], n["phase"]) for n in trees[-1]["nodes"]] == [("auto.hello", "SUCCEEDED")]

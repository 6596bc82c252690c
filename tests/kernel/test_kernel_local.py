"""A real notebook (nbclient, real ipykernel) using `%%flyte run --local` and the line magics."""

from __future__ import annotations

from typing import Any

import pytest
from kernel_helpers import cell_text, errors, make_kernel_env, run_notebook, tree_models

TASKS = '''
import flyte_jupyter as flyte
env = flyte.TaskEnvironment("demo")

@env.task
async def square(x: int) -> int:
    return x * x

@env.task
async def main(data: str, n: int) -> str:
    import asyncio
    squares = await asyncio.gather(*[square(i) for i in range(n)])
    return f"{data}:{sum(squares)}"

def shout(text: str) -> str:          # a plain helper, defined interactively
    return text.upper()

@env.task(retries=1)
def fragile(x: int) -> int:
    if x > 2:
        raise ValueError(f"x={x} is too big")
    return x
'''

CELLS = [
    "%load_ext flyte_jupyter",                                                      # 0
    TASKS,                                                                          # 1
    "%%flyte run --local --name nb-local\nresult = await main(data='hi', n=5)\nshout(result)",  # 2
    "print(repr(_))",                                                               # 3
    "%%flyte run --local --out answer\nawait square(x=12)",                         # 4
    "print(answer)",                                                                # 5
    "%%flyte run --local --name nb-fail\ntotal = fragile(1)\ntotal + fragile(3)",  # 6
    "%flyte runs",                                                                  # 7
    ("from flyte_jupyter.kernel import views\n"
     "view = [v for v in views() if v.run.name == 'nb-local'][-1]\n"
     "print(sorted((n['task'], n['phase']) for n in view.tree.nodes))\n"
     "print(view.tree.total, view.progress.value, view.progress.max)"),            # 8
    "%%flyte run --local --name nb-ipy\nfiles = !echo one two\n%time 1+1\nfiles",  # 9
    "r = %flyte run --local --wait sq_missing",                                     # 10
    "%flyte run --local --wait --out sq49 square --x 7\nprint(sq49)",               # 11
    "flyte.with_runcontext(mode='local', name='nb-display').run(main, data='d', n=3)",  # 12
    "print(get_ipython().find_line_magic('flyte').__doc__)",                        # 13
    # the embedded backend cannot start here: its directory is taken by a file
    ("import os\n"
     "open(os.path.join(os.environ['FLYTE_JUPYTER_DATA_DIR'], 'backend'), 'w').close()"),  # 14
    "%%flyte run\n1 + 1",                                                            # 15
    "%%flyte run --local --name nb-map\nsum(flyte.map(square, range(30), group_name='squares'))",  # 16
]


@pytest.fixture(scope="module")
def nb(tmp_path_factory: pytest.TempPathFactory) -> Any:
    tmp = tmp_path_factory.mktemp("local-nb")
    return run_notebook(CELLS, tmp, make_kernel_env(tmp), allow_errors=True)


def test_cell_value_is_bound_to_underscore(nb: Any) -> None:
    assert not errors(nb.cells[2]), cell_text(nb.cells[2])
    assert "'HI:30'" in cell_text(nb.cells[3])


def test_out_binds_the_named_variable(nb: Any) -> None:
    assert not errors(nb.cells[4]), cell_text(nb.cells[4])
    assert cell_text(nb.cells[5]).strip() == "144"


def test_failure_names_the_failing_action_attempt_and_user_traceback(nb: Any) -> None:
    errs = errors(nb.cells[6])
    assert len(errs) == 1
    err = errs[0]
    assert err.ename == "ActionFailedError"
    assert "demo.fragile" in err.evalue and "x=3 is too big" in err.evalue
    text = cell_text(nb.cells[6])
    assert "attempt 2 of 2" in text                      # retries=1: the second attempt failed too
    assert 'raise ValueError(f"x={x} is too big")' in text  # the user's line, from their cell
    assert "/flyte_jupyter/" not in text                  # none of our internals
    # the widget shows the failure too
    trees = [t for t in tree_models(nb) if t["run_name"] == "nb-fail"]
    phases = {(n["task"], n["phase"]) for n in trees[-1]["nodes"]}
    assert ("notebook.cell", "FAILED") in phases and ("demo.fragile", "FAILED") in phases


def test_runs_lists_the_runs_of_the_kernel(nb: Any) -> None:
    text = cell_text(nb.cells[7])
    for name in ("nb-local", "nb-fail"):
        assert name in text
    assert "SUCCEEDED" in text and "FAILED" in text


def test_widget_models_hold_the_final_tree(nb: Any) -> None:
    # from the widget state the notebook saved
    trees = [t for t in tree_models(nb) if t["run_name"] == "nb-local"]
    assert trees, "no action tree widget was displayed for the run"
    nodes = trees[-1]["nodes"]
    by_task: dict[str, list[str]] = {}
    for node in nodes:
        by_task.setdefault(node["task"], []).append(node["phase"])
    assert by_task["notebook.cell"] == ["SUCCEEDED"]
    assert by_task["demo.main"] == ["SUCCEEDED"]
    assert by_task["demo.square"] == ["SUCCEEDED"] * 5
    assert trees[-1]["total"] == 7
    root = next(n for n in nodes if n["name"] == "a0")
    assert root["parent"] is None and root["depth"] == 0
    # and from the kernel-side widget objects
    text = cell_text(nb.cells[8])
    assert "('demo.square', 'SUCCEEDED')" in text and "('notebook.cell', 'SUCCEEDED')" in text
    assert text.splitlines()[-1] == "7 7 7"


def test_widget_has_a_text_fallback_for_frontends_without_widgets(nb: Any) -> None:
    shown = [o for o in nb.cells[2].outputs if "data" in o and "application/vnd.jupyter.widget-view+json" in o.data]
    assert shown
    text = shown[0].data["text/plain"]
    assert "Run nb-local (local): SUCCEEDED, 7/7 actions finished" in text
    assert "demo.square" in text


def test_ipython_syntax_in_a_cell(nb: Any) -> None:
    assert not errors(nb.cells[9]), cell_text(nb.cells[9])
    text = cell_text(nb.cells[9])
    assert "['one two']" in text
    assert "%time dropped from the run" in text


def test_line_magic_run_and_clear_errors(nb: Any) -> None:
    errs = errors(nb.cells[10])
    assert errs and "no task named 'sq_missing'" in errs[0].evalue
    assert "Traceback" not in cell_text(nb.cells[10])
    assert not errors(nb.cells[11]), cell_text(nb.cells[11])
    assert cell_text(nb.cells[11]).strip().endswith("49")


def test_flyte_run_displays_the_widget(nb: Any) -> None:
    cell = nb.cells[12]
    assert not errors(cell), cell_text(cell)
    views = [o for o in cell.outputs if "data" in o and "application/vnd.jupyter.widget-view+json" in o.data]
    assert len(views) == 1
    trees = [t for t in tree_models(nb) if t["run_name"] == "nb-display"]
    assert {n["phase"] for n in trees[-1]["nodes"]} == {"SUCCEEDED"}


def test_magic_help_documents_every_command(nb: Any) -> None:
    doc = cell_text(nb.cells[13])
    for command in ("%%flyte run", "%flyte run", "%flyte runs", "%flyte status", "%flyte logs",
                    "%flyte abort", "%flyte connect", "%flyte backend", "--local", "--out", "--follow"):
        assert command in doc


def test_no_backend_and_embedded_cannot_start_fails_clearly(nb: Any) -> None:
    errs = errors(nb.cells[15])
    assert len(errs) == 1 and errs[0].ename == "CellError"
    message = errs[0].evalue
    assert "no backend is configured and the embedded backend could not be started" in message
    assert "%flyte connect" in message and "--local" in message
    assert "Traceback" not in cell_text(nb.cells[15])


def test_a_map_folds_into_one_group_line(nb: Any) -> None:
    assert not errors(nb.cells[16]), cell_text(nb.cells[16])
    assert "8555" in cell_text(nb.cells[16])
    tree = [t for t in tree_models(nb) if t["run_name"] == "nb-map"][-1]
    assert [(n["task"], n["phase"]) for n in tree["nodes"]] == [("notebook.cell", "SUCCEEDED")]
    assert [(g["group"], g["total"], g["phase"]) for g in tree["groups"]] == [("squares", 30, "SUCCEEDED")]
    assert tree["hidden"] == 30 and tree["total"] == 31

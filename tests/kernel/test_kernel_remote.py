"""A real notebook against the embedded backend of its data directory."""

from __future__ import annotations

from typing import Any

import pytest
from kernel_helpers import cell_text, errors, run_notebook_on_backend, tree_models

TASKS = '''
import flyte_jupyter as flyte
env = flyte.TaskEnvironment("demo")

@env.task
async def square(x: int) -> int:
    print(f"squaring {x}")
    return x * x

@env.task
async def main(data: str, n: int) -> str:
    import asyncio
    squares = await asyncio.gather(*[square(i) for i in range(n)])
    return f"{data}:{sum(squares)}"

def shout(text: str) -> str:          # a plain helper, defined interactively
    return text.upper()

@env.task
def sleepy(seconds: float) -> str:
    import time
    time.sleep(seconds)
    return "woke up"

@env.task(retries=1)
def fragile(x: int) -> int:
    if x > 2:
        raise ValueError(f"x={x} is too big")
    return x
'''

CELLS = [
    "%load_ext flyte_jupyter",                                                        # 0
    TASKS,                                                                            # 1
    "%%flyte run --name nb-remote\nresult = await main(data='hi', n=4)\nprint('cell says', result)\nshout(result)",  # 2
    "remote_value = _\nprint(repr(remote_value))",                                    # 3
    "%%flyte run --local --out local_value\nresult = await main(data='hi', n=4)\nshout(result)",  # 4
    "print(local_value == remote_value, repr(local_value))",                          # 5
    "%%flyte run --name nb-remote-fail\nfragile(3)",                                  # 6
    "%flyte runs",                                                                    # 7
    ("from flyte_jupyter.kernel import views\n"
     "view = [v for v in views() if v.run.name == 'nb-remote'][-1]\n"
     "print(view.run.mode, sorted((n['task'], n['phase']) for n in view.tree.nodes))"),  # 8
    "%flyte logs nb-remote",                                                          # 9
    "%flyte backend status",                                                          # 10
    "%%flyte run --name nb-remote-cell-error\nvalue = 2\nvalue + undefined_name",     # 11
    ("import os\n"
     "%flyte connect {os.environ['FLYTE_JUPYTER_DATA_DIR']}/backend/client.yaml"),      # 12
    "long_run = %flyte run --name nb-sleepy sleepy --seconds 60",                     # 13
    ("import time\n"
     "deadline = time.time() + 60\n"
     "while long_run.phase.value != 'RUNNING' and time.time() < deadline:\n"
     "    time.sleep(0.1)\n"
     "print(long_run.phase)"),                                                        # 14
    "%flyte abort nb-sleepy",                                                         # 15
    ("long_run.wait(60); print(long_run.phase)\n"
     "v = [v for v in views() if v.run.name == 'nb-sleepy'][-1]\n"
     "v.finish(); print(sorted((n['task'], n['phase']) for n in v.tree.nodes))"),      # 16
    "%flyte status nb-remote",                                                        # 17
    "%flyte run nb_missing_task",                                                     # 18
    "%%flyte run --name same-1\nawait square(x=3)",                                    # 19
    ("from pathlib import Path\n"
     "bundles = Path(os.environ['FLYTE_JUPYTER_DATA_DIR']) / 'backend' / 'data' / 'bundles'\n"
     "before = sorted(p.name for p in bundles.iterdir())"),                            # 20
    "%%flyte run --name same-2\nawait square(x=3)",                                    # 21
    ("from flyte_jupyter._internal.client.calls import call\n"
     "client = _flyte_run.client\n"
     "v1, v2 = (call(lambda n=n: client.get_action(n, 'a0')).task_version for n in ('same-1', 'same-2'))\n"
     "print(v1 == v2, before == sorted(p.name for p in bundles.iterdir()))"),           # 22
    ("first = [v for v in views() if v.run.name == 'nb-remote'][0].run\n"
     "child = next(a.name for a in first.actions.values() if a.task == 'demo.square')"),  # 23
    "%flyte logs nb-remote {child} --follow",                                          # 24
    # a run this kernel does not know (e.g. started from the side panel, or before a restart)
    "from flyte_jupyter.kernel import _submit\n_submit._runs.clear()",                # 25
    "%flyte status nb-remote",                                                        # 26
    ("v = views()[-1]\nv.run.wait(60)\nv.finish()\n"
     "print(v.run.name, v.run.mode, sorted({n['phase'] for n in v.tree.nodes}), v.tree.total)"),  # 27
    "import threading\nlock = threading.Lock()",                                      # 28
    "%%flyte run\nwith lock:\n    x = 1\nx",                                          # 29
    "%%flyte run --name nb-remote\n1",                                                 # 30
]


@pytest.fixture(scope="module")
def nb(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return run_notebook_on_backend(CELLS, tmp_path_factory.mktemp("remote-nb"))


def test_remote_cell_binds_the_value(nb: Any) -> None:
    assert not errors(nb.cells[2]), cell_text(nb.cells[2])
    assert "'HI:14'" in cell_text(nb.cells[3])


def test_what_the_remote_cell_prints_shows_under_it(nb: Any) -> None:
    streams = "".join(o.text for o in nb.cells[2].outputs if o.output_type == "stream")
    assert "cell says hi:14" in streams


def test_local_gives_the_same_value(nb: Any) -> None:
    assert not errors(nb.cells[4]), cell_text(nb.cells[4])
    assert cell_text(nb.cells[5]).strip() == "True 'HI:14'"


def test_remote_failure_names_the_failing_action(nb: Any) -> None:
    errs = errors(nb.cells[6])
    assert len(errs) == 1 and errs[0].ename == "ActionFailedError"
    text = cell_text(nb.cells[6])
    assert "demo.fragile" in text and "x=3 is too big" in text
    assert "attempt 2 of 2" in text
    assert "ValueError" in text
    assert "/flyte_jupyter/" not in text


def test_runs_lists_the_remote_run(nb: Any) -> None:
    text = cell_text(nb.cells[7])
    assert "nb-remote " in text or "nb-remote\n" in text
    assert "remote" in text and "SUCCEEDED" in text


def test_remote_widget_tree(nb: Any) -> None:
    trees = [t for t in tree_models(nb) if t["run_name"] == "nb-remote"]
    assert trees
    phases = sorted((n["task"], n["phase"]) for n in trees[-1]["nodes"])
    assert phases == sorted([("notebook.cell", "SUCCEEDED"), ("demo.main", "SUCCEEDED")]
                            + [("demo.square", "SUCCEEDED")] * 4)
    assert "remote" in cell_text(nb.cells[8])
    assert "('demo.square', 'SUCCEEDED')" in cell_text(nb.cells[8])


def test_logs_of_the_root_action(nb: Any) -> None:
    assert not errors(nb.cells[9]), cell_text(nb.cells[9])
    assert "cell says hi:14" in cell_text(nb.cells[9])


def test_backend_status(nb: Any) -> None:
    text = cell_text(nb.cells[10])
    assert "embedded backend: pid" in text


def test_error_in_the_cell_itself_shows_the_cell_line(nb: Any) -> None:
    errs = errors(nb.cells[11])
    assert len(errs) == 1 and errs[0].ename == "ActionFailedError"
    text = cell_text(nb.cells[11])
    assert "notebook.cell" in text and "NameError" in text and "undefined_name" in text
    # the remote traceback gets the cell's source line back from this kernel
    assert "value + undefined_name" in text
    assert "/flyte_jupyter/" not in text


def test_connect_abort_and_status(nb: Any) -> None:
    assert "connected to the flyte-jupyter backend at 127.0.0.1:" in cell_text(nb.cells[12])
    assert not errors(nb.cells[13]), cell_text(nb.cells[13])
    assert cell_text(nb.cells[14]).strip() == "RUNNING"
    assert "aborting run nb-sleepy" in cell_text(nb.cells[15])
    lines = [ln for ln in cell_text(nb.cells[16]).splitlines() if ln.strip()]
    assert lines[0] == "ABORTED"
    # `%flyte run` returned at once; its live widget (kernel-side models) followed the run to the end
    assert lines[1] == "[('demo.sleepy', 'ABORTED')]"
    # status of a known run: its widget again, final
    status = [t for t in tree_models(nb) if t["run_name"] == "nb-remote"]
    assert len(status) >= 2 and {n["phase"] for n in status[1]["nodes"]} == {"SUCCEEDED"}
    err = errors(nb.cells[18])
    assert err and err[0].ename == "CellError" and "no task named 'nb_missing_task'" in err[0].evalue


def test_unchanged_cell_same_version_nothing_uploaded(nb: Any) -> None:
    for i in (19, 20, 21, 22):
        assert not errors(nb.cells[i]), cell_text(nb.cells[i])
    assert cell_text(nb.cells[22]).strip() == "True True"


def test_logs_of_a_child_action_with_follow(nb: Any) -> None:
    assert not errors(nb.cells[24]), cell_text(nb.cells[24])
    assert cell_text(nb.cells[24]).strip().startswith("squaring ")


def test_status_attaches_to_a_run_the_kernel_did_not_start(nb: Any) -> None:
    assert not errors(nb.cells[26]), cell_text(nb.cells[26])
    assert cell_text(nb.cells[27]).strip() == "nb-remote remote ['SUCCEEDED'] 6"


def test_submission_problems_are_one_clear_line(nb: Any) -> None:
    err = errors(nb.cells[29])
    assert err and err[0].ename == "CellError"
    assert "cannot pickle" in err[0].evalue and "create it inside the cell or task, or run with --local" in err[0].evalue
    err = errors(nb.cells[30])
    assert err and err[0].ename == "CellError" and "run 'nb-remote' already exists" in err[0].evalue
    assert "Traceback" not in cell_text(nb.cells[29]) + cell_text(nb.cells[30])

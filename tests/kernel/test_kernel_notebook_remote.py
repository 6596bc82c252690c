"""A data scientist's notebook against a backend (nbclient, a real kernel, the embedded backend with
two slots): every action's output in the widget's stream (not only the root's), labels read from
storage, every attempt with its own log, remote tracebacks with the cell's lines (also in a later
kernel session), every attempt in a later session, the name series across kernels, `--overwrite`
replacing a running run, why actions wait, and where runs go."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kernel_helpers import cell_text, errors, make_kernel_env, run_notebook
from notebook_ux import INSPECT, panes, stream_text, tasks_cell, tree_of

TASKS = tasks_cell("rx", '''
@env.task
def slow(i: int) -> int:
    time.sleep(2)
    return i

@env.task
async def wide(n: int) -> int:
    return sum(await asyncio.gather(*[slow.aio(i) for i in range(n)]))

@env.task
def nap(s: float) -> str:
    time.sleep(s)
    return "rested"
''')


SWEEP_CELL = "%%flyte run --name rx-sweep\nprint('the cell says hi')\nawait sweep(n=6)"

CELLS = [
    "%load_ext flyte_jupyter",                                                          # 0
    TASKS,                                                                              # 1
    INSPECT,                                                                            # 2
    SWEEP_CELL,                                                                         # 3
    SWEEP_CELL,                                                                         # 4: run again
    "nap_run = %flyte run --name rx-over nap --s 120",                                  # 5: replaced at 17
    "%%flyte run --name rx-nested\nawait top(3)",                                       # 6
    "%%flyte run --name rx-retry\nthird_time_lucky(key=str(time.time_ns()))",           # 7
    "%%flyte run --name rx-bar\nbar()",                                                 # 8
    "%%flyte run --name rx-quiet\nawait sweep(n=3)",                                    # 9
    "%flyte logs rx-quiet",                                                             # 10
    "from flyte_jupyter.kernel import _submit\n_submit._runs.clear()\n%flyte abort rx-quiet",  # 11
    "%flyte status no-such-run",                                                        # 12
    "w = %flyte run --name rx-slots wide --n 4",                                        # 13
    ("deadline = time.time() + 40\nnote = ''\n"
     "while time.time() < deadline and 'slots busy' not in note:\n"
     "    time.sleep(0.2)\n    note = view_of('rx-slots').note.value\n"
     "print(json.dumps({'note': note}))"),                                              # 14
    "w.wait(90); print(w.phase)",                                                       # 15
    ("facts = {'retry': details('rx-retry', child('rx-retry', 'rx.third_time_lucky')),\n"
     "         'nested': details('rx-nested', 'a0')}\nprint(json.dumps(facts))"),      # 16
    "%%flyte run --name rx-over --overwrite\nawait sweep(n=2)",                         # 17
    ("from flyte_jupyter._internal.client.resolve import resolve_client\n"
     "from flyte_jupyter._internal.client.calls import call\n"
     "c = resolve_client()\nsummary, actions = call(lambda: c.get_run('rx-over'), 30)\n"
     "print(json.dumps({'task': summary.task, 'phase': summary.phase.value, 'n': len(actions)}))"),  # 18
]

SECOND_SESSION = [
    "%load_ext flyte_jupyter",
    TASKS,
    INSPECT,
    SWEEP_CELL,
    "%flyte status rx-nested",
    "print(json.dumps({'root': details('rx-nested', 'a0'), 'nodes': view_of('rx-nested').tree.nodes}))",
    "%flyte status rx-retry",                                                           # 6
    "print(json.dumps({'retry': details('rx-retry', child('rx-retry', 'rx.third_time_lucky'))}))",  # 7
]


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from flyte_jupyter._internal.client.embedded import start_backend, stop_backend

    tmp = tmp_path_factory.mktemp("ux-remote")
    env = make_kernel_env(tmp)
    backend_dir = Path(env["FLYTE_JUPYTER_DATA_DIR"]) / "backend"
    start_backend(backend_dir, port=0, extra_args=["--max-parallelism", "2"])
    try:
        first = run_notebook(CELLS, tmp, env, allow_errors=True, timeout=240)
        # the same notebook in a new kernel (as after a restart), against the same backend
        second = run_notebook(SECOND_SESSION, tmp, env, allow_errors=True, timeout=240)
        yield first, second
    finally:
        stop_backend(backend_dir)


@pytest.fixture(scope="module")
def nb(session: Any) -> Any:
    return session[0]


def test_every_actions_output_reaches_the_widget_and_the_cells_own_the_cell(nb: Any) -> None:
    assert not errors(nb.cells[3]), cell_text(nb.cells[3])
    cell = stream_text(nb.cells[3])
    assert "the cell says hi" in cell and "trial 0 says hi" not in cell
    pane = panes(nb)["rx-sweep"]
    assert sorted((x["label"], x["text"]) for x in pane["lines"]) == sorted(
        (f"trial(lr=0.05, i={i})", f"trial {i} says hi") for i in range(6))


def test_the_kernel_says_once_where_runs_go(nb: Any) -> None:
    first = stream_text(nb.cells[3])
    assert "[flyte] runs go to the embedded backend at 127.0.0.1:" in first
    assert "2 actions at a time" in first and "`%flyte backend stop` stops it" in first
    assert "%flyte connect" in first
    assert all("runs go to" not in stream_text(c) for c in nb.cells[4:])


def test_labels_come_from_the_stored_inputs(nb: Any) -> None:
    nodes = tree_of(nb, "rx-sweep")["nodes"]
    assert [n["label"] for n in nodes[:2]] == ["cell", "sweep(n=6)"]
    assert sorted(n["label"] for n in nodes[2:]) == sorted(f"trial(lr=0.05, i={i})" for i in range(6))
    assert nodes[1]["children"]["done"] == 6


def test_the_series_continues_and_overwrite_replaces_the_run(session: Any) -> None:
    nb, second = session
    assert "this run is rx-sweep-2" in stream_text(nb.cells[4])
    # --overwrite of a run still running: aborted, deleted on the backend, and the name is reused
    assert not errors(nb.cells[17]), cell_text(nb.cells[17])
    assert "run rx-over replaced (--overwrite)" in stream_text(nb.cells[17])
    assert [n["label"] for n in tree_of(nb, "rx-over")["nodes"][:2]] == ["cell", "sweep(n=2)"]
    facts = json.loads(stream_text(nb.cells[18]))
    assert facts["phase"] == "SUCCEEDED" and facts["n"] == 4  # the cell, the sweep, two trials: no nap
    # a new kernel session, the same cell: the series goes on (the runs carry their cell)
    assert not errors(second.cells[3]), cell_text(second.cells[3])
    assert "this run is rx-sweep-3" in stream_text(second.cells[3])


def test_a_remote_traceback_has_the_cells_lines_and_the_path(session: Any) -> None:
    nb, second = session
    text = cell_text(nb.cells[6])
    assert "Cell In[2], line" in text and "return x // zero" in text
    assert "path: cell › top(x=3) › middle(x=3) › broken(x=3)" in text
    assert "failed: ZeroDivisionError: action" not in text
    nodes = tree_of(nb, "rx-nested")["nodes"]
    assert {n["error"] for n in nodes} == {"ZeroDivisionError: integer division or modulo by zero"}
    nested = json.loads(stream_text(nb.cells[16]))["nested"]
    assert "came up from top(x=3) › middle(x=3) › broken(x=3)" in nested
    # after a restart the lines still show: the action named the cell by its source, which this
    # session ran again as In[2] (a cell this session never ran shows from the copy the first one
    # kept, "of an earlier kernel session": tests/kernel/test_kernel_units.py)
    later = json.loads(stream_text(second.cells[5]))
    assert "Cell In[2], line" in later["root"] and "return x // zero" in later["root"], later["root"]
    # a run attached afterwards keeps its actions' real durations
    assert all(n["duration"] and n["duration"] > 0 for n in later["nodes"])


def test_every_attempt_shows_its_error_and_its_own_log(session: Any) -> None:
    nb, second = session
    assert not errors(nb.cells[7]), cell_text(nb.cells[7])
    node = next(n for n in tree_of(nb, "rx-retry")["nodes"] if n["task"] == "rx.third_time_lucky")
    assert node["phase"] == "SUCCEEDED" and node["attempts"] == 3 and node["error"] is None
    html = json.loads(stream_text(nb.cells[16]))["retry"]
    for n in (1, 2, 3):
        assert f'data-attempt="{n}"' in html and f"attempt number {n}" in html
    assert "ValueError: not yet (1)" in html and "ValueError: not yet (2)" in html
    # a later kernel session attaching to the run sees every attempt's error and times too
    later = json.loads(stream_text(second.cells[7]))["retry"]
    for n in (1, 2, 3):
        assert f'data-attempt="{n}"' in later
    assert "ValueError: not yet (1)" in later and "ValueError: not yet (2)" in later
    assert "waited 0.3s before attempt 2" in later and "waited 0.6s before attempt 3" in later
    pane = panes(nb)["rx-retry"]
    assert [x["text"] for x in pane["lines"]] == ["attempt number 1", "── attempt 2 ──", "attempt number 2",
                                                  "── attempt 3 ──", "attempt number 3"]


def test_a_progress_bar_from_a_remote_action(nb: Any) -> None:
    lines = panes(nb)["rx-bar"]["lines"]  # its latest state, then the print after it, in order
    assert [(x["stream"], x["text"]) for x in lines] == [("stderr", "100%|##########|"), ("stdout", "bar done")]


def test_logs_abort_and_status_on_a_backend(nb: Any) -> None:
    text = stream_text(nb.cells[10])
    assert "a0 printed nothing; these actions of run rx-quiet have logs:" in text and "trial(lr=0.05, i=" in text
    assert "run rx-quiet already ended: SUCCEEDED; nothing to abort" in stream_text(nb.cells[11])
    err = errors(nb.cells[12])
    assert err and "`%flyte runs` lists the runs" in err[0].evalue


def test_the_widget_says_why_actions_wait(nb: Any) -> None:
    note = json.loads(stream_text(nb.cells[14]))["note"]
    assert "of 2 slots busy on the backend" in note and "waiting" in note
    assert stream_text(nb.cells[15]).strip() == "SUCCEEDED"

"""A data scientist's notebook in local mode (nbclient, a real kernel): each action's output in the
widget's stream, the cell's own prints capped, progress bars, labels and group progress, every
attempt of a retried task, errors at their root with cell references, the name series of a
re-executed cell, and the small things (logs, abort, status, syntax errors, durations, values)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from kernel_helpers import cell_text, errors, make_kernel_env, run_notebook
from notebook_ux import INSPECT, panes, row_attributes, stream_text, tasks_cell, tree_of

TASKS = tasks_cell("ux", '''
@env.task
def wrong() -> int:
    return "not an int"

@env.task
def chatty(n: int) -> int:
    for i in range(n):
        print(f"chatty line {i}")
    return n

@env.task
def table(rows: int) -> "pandas.DataFrame":
    import pandas
    return pandas.DataFrame({"x": range(rows), "y": [i * i for i in range(rows)]})

@env.task
def text() -> str:
    return "lorem ipsum " * 500

@env.task
def sleepy(s: float) -> str:
    time.sleep(s)
    return "awake"

@env.task
def one(i: int) -> int:
    return i

@env.task(retries=flyte.RetryStrategy(count=2, backoff=0.1))
def slow_third(key: str) -> str:
    path = os.path.join(tempfile.gettempdir(), f"flyte-ux-slow-{key}")
    tries = int(open(path).read()) + 1 if os.path.exists(path) else 1
    open(path, "w").write(str(tries))
    if tries < 3:
        raise ValueError(f"not yet ({tries})")
    time.sleep(2)
    return "late"
''')


CELLS = [
    "%load_ext flyte_jupyter",                                                          # 0
    TASKS,                                                                              # 1
    INSPECT,                                                                            # 2
    "%%flyte run --local --name ux-sweep\nprint('the cell says hi')\nawait sweep(n=6)",  # 3
    "%%flyte run --local --name ux-sweep\nprint('the cell says hi')\nawait sweep(n=6)",  # 4: run again
    "%%flyte run --local --name ux-sweep\n1",                                           # 5: another cell
    "%%flyte run --local --name ux-sweep --overwrite\nawait sweep(n=2)",                # 6
    "%%flyte run --local --name ux-nested\nawait top(3)",                               # 7
    "%%flyte run --local --name ux-wrong\nwrong()",                                     # 8
    "%%flyte run --local --name ux-retry\nthird_time_lucky(key=str(time.time_ns()))",   # 9
    "%%flyte run --local --name ux-bar\nbar()",                                         # 10
    "%%flyte run --local --name ux-chatty\nchatty(n=1000)",                             # 11
    "%flyte logs ux-chatty {child('ux-chatty', 'ux.chatty')}",                          # 12
    "%%flyte run --local --name ux-quiet\nawait sweep(n=3)",                            # 13
    "%flyte logs ux-quiet",                                                             # 14
    "%flyte abort ux-quiet",                                                            # 15
    "%flyte status no-such-run",                                                        # 16
    "%%flyte run --local --name ux-syntax\nx = 1\ny = (",                               # 17
    "%%flyte run --local --name ux-values\n(table(rows=1000), text())",                 # 18
    ("facts = {\n"
     "  'table': details('ux-values', child('ux-values', 'ux.table')),\n"
     "  'text': details('ux-values', child('ux-values', 'ux.text')),\n"
     "  'retry': details('ux-retry', child('ux-retry', 'ux.third_time_lucky')),\n"
     "  'nested': details('ux-nested', 'a0'),\n"
     "  'chatty_full': None,\n"
     "}\n"
     "v = view_of('ux-chatty'); c = child('ux-chatty', 'ux.chatty'); details('ux-chatty', c)\n"
     "v.load_full_log(c); facts['chatty_full'] = details('ux-chatty', c)\n"
     "print(json.dumps(facts))"),                                                       # 19
    "long = %flyte run --local --name ux-live sleepy --s 4",                            # 20
    ("time.sleep(2.5)\nv = view_of('ux-live'); v.render_now()\n"
     "print(json.dumps({'nodes': v.tree.nodes, 'abort': v.abort_button.layout.display,"
     " 'header': v.header.value}))"),                                                  # 21
    ("long.wait(30); v = view_of('ux-live'); v.finish()\n"
     "print(json.dumps({'abort': v.abort_button.layout.display, 'header': v.header.value}))"),  # 22
    "%%flyte run --local --name ux-root\nfor i in range(600):\n    print('root line', i)",  # 23
    "%%flyte run --local --name ux-map\nsum(flyte.map(one, range(8), group_name='ones'))",  # 24
    "flyte.with_runcontext(mode='local').run(trial, lr='fast', i=1)",                   # 25
    "late = %flyte run --local --name ux-late slow_third --key {str(time.time_ns())}",   # 26
    ("deadline = time.time() + 30\n"
     "while time.time() < deadline:\n"
     "    a = late.state.get('a0')\n"
     "    if a is not None and a.attempts == 3 and a.phase.value == 'RUNNING':\n"
     "        break\n"
     "    time.sleep(0.05)\n"
     "during = {'phase': a.phase.value, 'ended_at': a.ended_at}\n"
     "late.wait(30); a = late.state.get('a0')\n"
     "print(json.dumps({'during': during, 'phase': a.phase.value, 'error': str(a.error) if a.error else None,\n"
     "                  'took': a.ended_at - a.started_at}))"),                             # 27
]


@pytest.fixture(scope="module")
def nb(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("pandas")
    tmp = tmp_path_factory.mktemp("ux-local")
    return run_notebook(CELLS, tmp, make_kernel_env(tmp), allow_errors=True, timeout=240)


def test_each_actions_output_is_a_stream_in_the_widget_and_the_cell_keeps_its_own(nb: Any) -> None:
    assert not errors(nb.cells[3]), cell_text(nb.cells[3])
    cell = stream_text(nb.cells[3])
    assert "the cell says hi" in cell
    assert "trial 0 says hi" not in cell  # the children's prints are not poured into the cell
    pane = panes(nb)["ux-sweep-2"]
    assert sorted((x["label"], x["text"]) for x in pane["lines"]) == sorted(
        (f"trial(lr=0.05, i={i})", f"trial {i} says hi") for i in range(6))
    assert pane["actions"] == 6 and pane["total_lines"] == 6


def test_a_progress_bar_keeps_only_its_latest_state(nb: Any) -> None:
    pane = panes(nb)["ux-bar"]
    assert [x["text"] for x in pane["lines"]] == ["100%|##########|", "bar done"]
    assert {x["stream"] for x in pane["lines"]} == {"stderr", "stdout"}


def test_a_chatty_action_is_capped_and_its_full_log_is_one_click_away(nb: Any) -> None:
    pane = panes(nb)["ux-chatty"]
    assert pane["total_lines"] == 1000 and len(pane["lines"]) == 60
    assert pane["lines"][-1]["text"] == "chatty line 999"
    logs = stream_text(nb.cells[12]).splitlines()
    assert len(logs) == 1000 and logs[0] == "chatty line 0"  # `%flyte logs` prints all of it
    facts = json.loads(stream_text(nb.cells[19]))
    assert "full log</b> (1,000 lines" in facts["chatty_full"] and "chatty line 0\n" in facts["chatty_full"]


def test_the_cells_own_prints_are_capped_too(nb: Any) -> None:
    text = stream_text(nb.cells[23])
    assert text.count("root line") == 500
    assert "a0 printed 100 more lines than the cell shows" in text and "%flyte logs ux-root a0" in text
    pane = panes(nb)["ux-root"]
    assert pane["lines"][-1]["text"] == "root line 599"


def test_rows_are_labelled_by_their_inputs_and_a_gather_has_progress(nb: Any) -> None:
    tree = tree_of(nb, "ux-sweep")
    labels = [n["label"] for n in tree["nodes"]]
    assert labels[:2] == ["cell", "sweep(n=2)"]  # --overwrite replaced the first run of the name
    sweep = tree_of(nb, "ux-sweep-2")["nodes"][1]
    assert sweep["label"] == "sweep(n=6)" and sweep["children"]["done"] == 6 and sweep["children"]["total"] == 6
    assert sweep["children"]["rate"] is not None
    mapped = tree_of(nb, "ux-map")["groups"][0]
    assert mapped["group"] == "ones" and mapped["progress"]["done"] == 8 and mapped["progress"]["total"] == 8


def test_re_running_a_named_cell_continues_its_series(nb: Any) -> None:
    assert not errors(nb.cells[4]), cell_text(nb.cells[4])
    assert "run ux-sweep exists (an earlier run of this cell): this run is ux-sweep-2" in stream_text(nb.cells[4])
    err = errors(nb.cells[5])  # another cell asking for the name
    assert err and err[0].ename == "CellError" and "run 'ux-sweep' already exists" in err[0].evalue
    assert "--overwrite" in err[0].evalue
    assert not errors(nb.cells[6]), cell_text(nb.cells[6])
    assert "run ux-sweep replaced (--overwrite)" in stream_text(nb.cells[6])


def test_a_nested_failure_is_shown_once_with_its_path_and_cell_line(nb: Any) -> None:
    text = cell_text(nb.cells[7])
    assert "path: cell › top(x=3) › middle(x=3) › broken(x=3)" in text
    assert "failing action: broken(x=3)" in text
    assert "failed: ZeroDivisionError: action" not in text
    assert "Cell In[2], line" in text and "return x // zero" in text
    nodes = tree_of(nb, "ux-nested")["nodes"]
    assert {n["error"] for n in nodes} == {"ZeroDivisionError: integer division or modulo by zero"}
    facts = json.loads(stream_text(nb.cells[19]))
    assert "came up from top(x=3) › middle(x=3) › broken(x=3)" in facts["nested"], facts["nested"]
    assert "<b>error</b> ZeroDivisionError: integer division or modulo by zero</div>" in facts["nested"]
    assert "failed: ZeroDivisionError" not in facts["nested"]


def test_a_wrong_type_names_the_public_error(nb: Any) -> None:
    text = cell_text(nb.cells[8])
    assert "TypeMismatchError: output of task 'ux.wrong' expects int" in text
    assert "flyte_jupyter." not in text and "/flyte_jupyter/" not in text


def test_every_attempt_of_a_retried_task_is_shown(nb: Any) -> None:
    assert not errors(nb.cells[9]), cell_text(nb.cells[9])
    node = next(n for n in tree_of(nb, "ux-retry")["nodes"] if n["task"] == "ux.third_time_lucky")
    assert node["phase"] == "SUCCEEDED" and node["attempts"] == 3 and node["error"] is None
    html = json.loads(stream_text(nb.cells[19]))["retry"]
    for n in (1, 2, 3):
        assert f'data-attempt="{n}"' in html and f"attempt number {n}" in html
    assert "ValueError: not yet (1)" in html and "ValueError: not yet (2)" in html
    # the wait shown is the one measured: at least the backoff (0.3 s, then 0.6 s), more on a loaded machine
    waited = {int(n): float(s) for s, n in re.findall(r"waited ([0-9.]+)s before attempt (\d)", html)}
    assert set(waited) == {2, 3}, html
    assert 0.3 <= waited[2] < 3.0 and 0.6 <= waited[3] < 3.3, waited  # the backoff doubles


def test_logs_abort_and_status_say_what_there_is(nb: Any) -> None:
    text = stream_text(nb.cells[14])
    assert "a0 printed nothing; these actions of run ux-quiet have logs:" in text and "trial(lr=0.05, i=0)" in text
    assert "run ux-quiet already ended: SUCCEEDED; nothing to abort" in stream_text(nb.cells[15])
    err = errors(nb.cells[16])
    assert err and "`%flyte runs` lists the runs" in err[0].evalue and "flyte-jupyter runs" not in err[0].evalue


def test_a_syntax_error_counts_the_magic_line(nb: Any) -> None:
    err = errors(nb.cells[17])
    assert err and "SyntaxError in line 3 of the cell" in err[0].evalue


def test_values_show_at_a_glance(nb: Any) -> None:
    facts = json.loads(stream_text(nb.cells[19]))
    assert "DataFrame" in facts["table"] and "1,000 × 2" in facts["table"] and "<table" in facts["table"]
    assert "6,000 characters" in facts["text"] and "lorem ipsum" in facts["text"]


def test_a_running_duration_ticks_and_a_finished_view_has_no_abort(nb: Any) -> None:
    facts = json.loads(stream_text(nb.cells[21]))
    node = next(n for n in facts["nodes"] if n["task"] == "ux.sleepy")
    assert node["phase"] == "RUNNING" and node["duration"] >= 2.0
    assert facts["abort"] != "none" and "flyte-stale" in facts["header"]  # live: Abort, and the stale marker
    final = json.loads(stream_text(nb.cells[22]))
    assert final["abort"] == "none"  # a finished run has nothing to abort
    assert 'data-phase="SUCCEEDED"' in final["header"] and "flyte-stale" not in final["header"]


def test_an_sdk_error_in_a_cell_shows_the_cells_frame_not_ours(nb: Any) -> None:
    err = errors(nb.cells[25])
    assert err and err[0].ename == "TypeMismatchError"
    text = cell_text(nb.cells[25])
    assert "Cell In[26], line 1" in text and "run(trial, lr='fast', i=1)" in text
    assert "/flyte_jupyter/" not in text and "flyte_jupyter." not in text


def test_every_widget_row_opens_its_run_and_action_in_the_panel(nb: Any) -> None:
    rows = row_attributes(nb)
    actions = [r for r in rows if r["kind"] == "action"]
    assert len(actions) > 20 and any(r["kind"] == "group" for r in rows)
    for row in rows:  # the panel opens what a click on the row names (labextension/src/index.ts)
        assert row.get("data-flyte-run"), row
    for row in actions:
        assert row["data-flyte-action"] == row["data-action"], row
    sweep = {r["data-flyte-action"] for r in actions if r["data-flyte-run"] == "ux-sweep-2"}
    assert sweep == {n["name"] for n in tree_of(nb, "ux-sweep-2")["nodes"]}


def test_a_retried_action_that_succeeds_keeps_no_stale_error_or_end(nb: Any) -> None:
    facts = json.loads(stream_text(nb.cells[27]))
    assert facts["during"] == {"phase": "RUNNING", "ended_at": None}  # not the failed attempt's end
    assert facts["phase"] == "SUCCEEDED" and facts["error"] is None  # attempt 2's error is history
    assert facts["took"] >= 2.0

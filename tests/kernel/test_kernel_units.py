"""Pieces of the notebook layer without a kernel: cell rewriting, error cleaning, tree capping,
and event coalescing in the widget."""

from __future__ import annotations

import time
from typing import Any

import pytest

from flyte_jupyter._internal.controllers.run_state import RunState
from flyte_jupyter._internal.wire.models import ActionEvent, ActionInfo, Phase
from flyte_jupyter.kernel._cell import build_cell_task, portable_tree
from flyte_jupyter.kernel._errors import clean_traceback, format_failure
from flyte_jupyter.kernel._magics import transform_cell_lines
from flyte_jupyter.kernel._tree import visible_entries


class _Shell:
    """Just enough of IPython's shell for the cell builder: its namespace and transform_cell."""

    def __init__(self) -> None:
        from IPython.core.inputtransformer2 import TransformerManager

        self.user_ns: dict[str, Any] = {"__name__": "__main__"}
        self._tm = TransformerManager()

    def transform_cell(self, text: str) -> str:
        return self._tm.transform_cell(text)


def test_shell_syntax_becomes_portable_python() -> None:
    shell = _Shell()
    source = shell.transform_cell("files = !ls /\n!echo hi\n%time x = 1\ny = 2")
    _, tree, dropped = portable_tree(None, source)
    import ast

    code = ast.unparse(tree)
    assert "get_ipython" not in code
    assert "subprocess').getoutput('ls /').splitlines()" in code
    assert "subprocess').run('echo hi', shell=True)" in code
    assert dropped == ["%time"]


def test_cell_task_returns_its_last_expression_and_keeps_line_numbers() -> None:
    import asyncio

    shell = _Shell()
    shell.user_ns["base"] = 40
    task = build_cell_task(shell, "import asyncio\nawait asyncio.sleep(0)\nbase + 2")
    assert task.name == "notebook.cell"
    assert asyncio.run(task.func()) == 42

    failing = build_cell_task(shell, "a = 1\n\nraise KeyError('line 3')")
    with pytest.raises(KeyError) as info:
        asyncio.run(failing.func())
    assert info.traceback[-1].lineno == 2  # 0-based: the cell's third line
    assert "raise KeyError('line 3')" in str(info.traceback[-1].statement)


def test_same_cell_same_version_edited_cell_new_version() -> None:
    shell = _Shell()
    a = build_cell_task(shell, "1 + 1")
    b = build_cell_task(shell, "1 + 1")
    c = build_cell_task(shell, "1 + 2")
    assert a.cache_version() == b.cache_version() != c.cache_version()


def test_only_a_cell_that_awaits_becomes_a_coroutine() -> None:
    import inspect

    shell = _Shell()
    assert inspect.iscoroutinefunction(build_cell_task(shell, "import asyncio\nawait asyncio.sleep(0)").func)
    assert not inspect.iscoroutinefunction(build_cell_task(shell, "async def f():\n    await g()\n1").func)
    sync_gen_helper = build_cell_task(shell, "def g():\n    yield 1\nlist(g())")
    assert not inspect.iscoroutinefunction(sync_gen_helper.func)


def test_yield_in_a_cell_is_refused_clearly() -> None:
    with pytest.raises(SyntaxError, match="cannot `yield`"):
        build_cell_task(_Shell(), "yield 1")


def test_input_transformer_awaits_the_cell() -> None:
    out = transform_cell_lines(["%%flyte run --local --name x\n", "y = await f()\n", "y;\n"])
    assert len(out) == 1 and out[0].startswith("await __import__('flyte_jupyter.kernel._magics'")
    assert "'run --local --name x'" in out[0] and out[0].rstrip().endswith(";")
    untouched = ["%%time\n", "1\n"]
    assert transform_cell_lines(untouched) is untouched
    assert transform_cell_lines(["%%flyte runs\n"]) == ["%%flyte runs\n"]


def test_terminal_waits_for_the_whole_cell() -> None:
    """In a terminal a `%%` cell ends with a blank line: the rewrite must not make it complete early."""
    from IPython.core.inputtransformer2 import TransformerManager

    tm = TransformerManager()
    tm.cleanup_transforms.append(transform_cell_lines)
    assert tm.check_complete("%%flyte run --local\n")[0] == "incomplete"
    assert tm.check_complete("%%flyte run --local\nx = 1\n")[0] == "incomplete"
    assert tm.check_complete("%%flyte run --local\nx = 1\n\n")[0] == "complete"


def test_clean_traceback_keeps_only_user_frames() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "/site/flyte_jupyter/_controller/_local.py", line 112, in _run_action\n'
        "    result = await _run_attempt(task, inputs, attempt_tc, timeout)\n"
        "             ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
        '  File "/usr/lib/python3.11/asyncio/threads.py", line 25, in to_thread\n'
        "    return await loop.run_in_executor(None, func_call)\n"
        '  File "<ipython-input-3-abc>", line 8, in bad\n'
        "    raise ValueError('boom')\n"
        "ValueError: boom\n"
    )
    cleaned = clean_traceback(text)
    assert "flyte_jupyter" not in cleaned and "asyncio" not in cleaned
    assert '<ipython-input-3-abc>", line 8, in bad' in cleaned
    assert cleaned.splitlines()[0] == "Traceback (most recent call last):"
    assert cleaned.splitlines()[-1] == "ValueError: boom"


def test_failure_text_names_action_attempt_and_cause() -> None:
    from flyte_jupyter.errors import ActionFailedError

    err = ActionFailedError(action="r1/a9", task="demo.bad", kind="ValueError", message="boom",
                            attempts=3, max_attempts=3, traceback="ValueError: boom")
    lines = "\n".join(format_failure(err))
    assert "demo.bad" in lines and "r1/a9" in lines and "attempt 3 of 3" in lines and "ValueError: boom" in lines


def _info(name: str, parent: str | None, phase: Phase = Phase.SUCCEEDED) -> ActionInfo:
    return ActionInfo(name=name, task="t", parent=parent, run_name="r", phase=phase)


def test_tree_shows_a_capped_window_of_a_big_fan_out() -> None:
    actions = {"a0": _info("a0", None)}
    for i in range(1000):
        actions[f"c{i}"] = _info(f"c{i}", "a0")
    for i in range(5):
        actions[f"g{i}"] = _info(f"g{i}", "c0")  # grandchildren under the first child
    entries, hidden = visible_entries(actions, set(), {}, max_children=20, max_rows=150)
    names = [e.key for e in entries]
    assert names[0] == "a0" and names[1] == "c0" and names[2:7] == [f"g{i}" for i in range(5)]
    assert entries[-1].key == "more:a0" and entries[-1].more == 980
    assert hidden == 1006 - sum(1 for e in entries if e.info is not None)
    # "show more" widens that parent's window; max_rows still bounds the whole tree
    entries, _ = visible_entries(actions, set(), {"a0": 500}, max_children=20, max_rows=150)
    assert len(entries) <= 151


def test_grouped_siblings_fold_into_one_line() -> None:
    actions = {"a0": _info("a0", None), "m": _info("m", "a0")}
    for i in range(300):
        actions[f"g{i}"] = ActionInfo(name=f"g{i}", task="t", parent="m", run_name="r", group="map:sq",
                                      phase=Phase.FAILED if i == 7 else Phase.SUCCEEDED)
    actions["after"] = _info("after", "m")
    entries, hidden = visible_entries(actions, set(), {}, max_children=20, max_rows=150)
    keys = [e.key for e in entries]
    assert keys == ["a0", "m", "group:m:map:sq", "after"]
    group = entries[2]
    assert group.members is not None and len(group.members) == 300 and not group.expanded
    assert hidden == 300
    from flyte_jupyter.kernel._tree import group_data

    data = group_data(group)
    assert data["phase"] == "FAILED" and data["counts"] == {"SUCCEEDED": 299, "FAILED": 1}
    # opened: a window of its members, then "… N more" for that group
    entries, _ = visible_entries(actions, {"group:m:map:sq"}, {}, max_children=20, max_rows=150)
    keys = [e.key for e in entries]
    assert keys[3:23] == [f"g{i}" for i in range(20)]
    assert keys[23] == "more:group:m:map:sq" and entries[23].more == 280 and keys[24] == "after"
    entries, _ = visible_entries(actions, {"group:m:map:sq"}, {"group:m:map:sq": 100}, max_children=20,
                                 max_rows=150)
    assert sum(1 for e in entries if e.info is not None and e.key.startswith("g")) == 100


def test_widget_coalesces_event_storms() -> None:
    """A thousand phase changes do not mean a thousand renders: the view renders from snapshots
    at a bounded rate, and its final render shows every action's last phase."""
    from flyte_jupyter.kernel._views import RunView

    class FakeRun:
        name, mode, task = "storm", "local", None
        url = None

        def __init__(self) -> None:
            self.state = RunState("storm")

        @property
        def root(self) -> Any:
            return self.state.get("a0")

        @property
        def phase(self) -> Phase:
            return self.root.phase if self.root else Phase.QUEUED

        @property
        def done(self) -> bool:
            return self.phase.terminal

        def tree_text(self) -> str:
            return "storm"

    run = FakeRun()
    view = RunView(run).start()

    def emit(name: str, parent: str | None, phase: Phase) -> None:
        run.state.apply(ActionEvent("storm", name, "t", parent, phase, 1, time.time()))

    emit("a0", None, Phase.RUNNING)
    for i in range(1000):
        emit(f"c{i}", "a0", Phase.RUNNING)
        emit(f"c{i}", "a0", Phase.SUCCEEDED)
    emit("a0", None, Phase.SUCCEEDED)
    view.finish()
    assert view.render_error is None
    assert view.renders < 200  # 2001 events
    assert view.tree.total == 1001
    assert view.progress.value == 1001
    assert {n["phase"] for n in view.tree.nodes} == {"SUCCEEDED"}
    assert len(view.tree.nodes) == 21 and view.tree.hidden == 980


def test_a_run_that_ends_between_the_first_render_and_the_subscription_shows_its_end() -> None:
    """`show()` renders once, then subscribes only if the run has not ended. A local run can end in
    between (under load it did): no change reached the view one by one, so its counts and failure
    paths must come from the actions themselves, not from what the first render saw."""
    from flyte_jupyter._internal.wire.models import ActionError
    from flyte_jupyter.kernel._views import RunView

    class EndedRun:
        name, mode, task, url = "raced", "local", None, None

        def __init__(self) -> None:
            self.state = RunState("raced")

        @property
        def done(self) -> bool:
            root = self.state.get("a0")
            return root is not None and root.phase.terminal

        def tree_text(self) -> str:
            return "raced"

    run = EndedRun()

    def emit(name: str, parent: str | None, phase: Phase) -> None:
        error = ActionError("ZeroDivisionError", "division by zero") if phase is Phase.FAILED else None
        run.state.apply(ActionEvent("raced", name, "t", parent, phase, 1, time.time(), error=error))

    emit("a0", None, Phase.RUNNING)
    emit("c0", "a0", Phase.RUNNING)
    view = RunView(run)
    view.render_now()  # what show() draws before it checks whether the run is done
    emit("c0", "a0", Phase.FAILED)
    emit("a0", None, Phase.FAILED)
    view.finish()  # the run had ended: show() never subscribed
    assert view.render_error is None
    assert view.progress.value == 2 and "2/2 finished" in view.counts.value and "2 failed" in view.counts.value
    view.toggle("a0")
    view.render_now()
    assert "came up from t" in view._rows["a0"].details.value


def test_a_cell_named_by_its_source_shows_as_its_cell_with_its_lines(tmp_path: Any, monkeypatch: Any) -> None:
    """An action names a notebook cell `<notebook cell DIGEST>` (see `code_origins`): this kernel
    shows it as the cell it ran, and a later kernel session from the copy kept on disk."""
    import linecache
    import os
    import subprocess
    import sys
    from types import SimpleNamespace

    from flyte_jupyter._internal.runtime.code_origins import stable_origin
    from flyte_jupyter.kernel import _errors

    monkeypatch.setenv("FLYTE_JUPYTER_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setattr(_errors, "_cell_ids", {})
    monkeypatch.setattr(_errors, "_origin_of", {})
    monkeypatch.setattr(_errors, "_remembered", set())
    name = "/tmp/ipykernel_777/2718281828.py"
    source = "def broken(x):\n    return x // 0\n"
    monkeypatch.setitem(linecache.cache, name, (len(source), None, source.splitlines(True), name))
    shell = SimpleNamespace(compile=SimpleNamespace(_filename_map={name: 5}))
    _errors.remember_sources(shell)  # as when a run is shipped
    cell = stable_origin(name)
    assert cell.startswith("<notebook cell ")
    text = f'Traceback (most recent call last):\n  File "{cell}", line 2, in broken\nZeroDivisionError: x\n'
    cleaned = clean_traceback(text)
    assert "Cell In[5], line 2, in broken" in cleaned and "    return x // 0" in cleaned, cleaned
    # another kernel session (another process), which never ran that cell
    code = f"from flyte_jupyter.kernel._errors import clean_traceback; print(clean_traceback({text!r}))"
    later = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                           env={**os.environ, "FLYTE_JUPYTER_DATA_DIR": str(tmp_path / "data")})
    assert later.returncode == 0, later.stderr
    assert "Cell In[5] of an earlier kernel session, line 2, in broken" in later.stdout, later.stdout
    assert "    return x // 0" in later.stdout

"""Pieces of the notebook layer behind the output streams, labels, attempt history, errors and
value displays, without a kernel."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from flyte_jupyter._internal.controllers.run_state import RunState
from flyte_jupyter._internal.display.labels import label_of, literal_word, value_word
from flyte_jupyter._internal.wire.models import ActionError, ActionEvent, ActionInfo, Phase
from flyte_jupyter.kernel import _streams
from flyte_jupyter.kernel._attempts import AttemptBook
from flyte_jupyter.kernel._errors import clean_traceback, format_failure, public_text, root_cause
from flyte_jupyter.kernel._format import duration_text
from flyte_jupyter.kernel._streams import RunOutput
from flyte_jupyter.kernel._tree import Progress, children_progress, row_html, visible_entries
from flyte_jupyter.kernel._values import value_html


def test_carriage_returns_keep_the_latest_state_of_a_line() -> None:
    out = RunOutput("r")
    for pct in (0, 10, 50):
        out.write("a1", "stderr", f"\r{pct:3d}%|{'#' * (pct // 10)}|")
    assert out.recent() == [("a1", "stderr", " 50%|#####|", 1)]  # an unterminated bar shows as it is now
    out.write("a1", "stderr", "\r100%|##########|\n")
    out.write("a1", "stdout", "done\n")
    assert [t for _, _, t, _ in out.recent()] == ["100%|##########|", "done"]
    out.write("a2", "stdout", "50%\rfinal\r\n")  # a trailing \r keeps the last text
    assert out.lines_of("a2") == ["final"]


def test_caps_per_action_and_per_run(tmp_path: Path) -> None:
    out = RunOutput("r", spill_dir=tmp_path / "logs")
    for i in range(_streams.PER_ACTION_LINES * 3):
        out.write("chatty", "stdout", f"line {i}\n")
    kept = out.lines_of("chatty")
    assert len(kept) == _streams.PER_ACTION_LINES and kept[-1] == f"line {_streams.PER_ACTION_LINES * 3 - 1}"
    full, complete = out.full_log("chatty")  # everything, from the file it spilled to
    assert complete and len(full) == _streams.PER_ACTION_LINES * 3 and full[0] == "line 0"
    assert len(out.recent()) == _streams.RECENT_LINES
    for i in range(_streams.RUN_ACTIONS + 5):
        out.write(f"a{i}", "stdout", "hello\n")
    stats = out.stats()
    assert stats["untracked_actions"] == 6 and stats["untracked_lines"] == 6  # beyond the per-run cap
    assert out.is_truncated("chatty") and not out.is_truncated("a1")
    out.write("x" * 3, "stdout", "ignored\n")
    out.close()


def test_a_long_line_is_cut() -> None:
    out = RunOutput("r")
    out.write("a1", "stdout", "x" * 10_000 + "\n")
    assert len(out.lines_of("a1")[0]) == _streams.LINE_CHARS


def test_the_root_of_a_cell_echoes_its_first_lines_then_streams() -> None:
    out = RunOutput("r", echo_root=True)
    passed = [out.write("a0", "stdout", f"root {i}\n") for i in range(_streams.ROOT_CELL_LINES + 10)]
    assert passed.count(False) == _streams.ROOT_CELL_LINES  # False: the caller shows it in the cell
    assert [t for _, _, t, _ in out.recent()] == [f"root {i}" for i in range(_streams.ROOT_CELL_LINES,
                                                                             _streams.ROOT_CELL_LINES + 10)]
    assert out.write("a7", "stdout", "child\n")  # other actions always go to the stream
    note = out.root_note()
    assert note is not None and "10 more lines" in note and "%flyte logs r a0" in note


def test_a_retry_is_marked_in_the_stream() -> None:
    out = RunOutput("r")
    out.write("a1", "stdout", "try\n", 1)
    out.write("a1", "stdout", "try again\n", 2)
    assert [t for _, _, t, _ in out.recent()] == ["try", "── attempt 2 ──", "try again"]
    assert out.lines_of("a1", 2) == ["try again"]
    assert [s for _, s, _, _ in out.recent()] == ["stdout", "flyte", "stdout"]


def test_the_router_sends_an_actions_writes_to_its_run(capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from flyte_jupyter._context import ActionID, TaskContext, task_context

    out = _streams.open_output("routed-run", local=True)
    try:
        tc = TaskContext(action=ActionID("a5", "routed-run"), mode="local", attempt=1)
        with task_context(tc):
            print("inside the action")
            sys.stderr.write("\rbar 50%")
        print("outside")
        assert [(a, t) for a, _, t, _ in out.recent()] == [("a5", "inside the action"), ("a5", "bar 50%")]
        assert "outside" in capsys.readouterr().out
    finally:
        _streams.stop_capture("routed-run")
        _streams.forget("routed-run")


def test_root_cause_of_a_nested_failure_is_shown_once() -> None:
    message = ("action a046 (task demo.middle) failed: ZeroDivisionError: action ae02 (task demo.broken) "
               "failed after 2 attempts: ZeroDivisionError: integer division or modulo by zero")
    kind, text, path = root_cause("ZeroDivisionError", message)
    assert (kind, text) == ("ZeroDivisionError", "integer division or modulo by zero")
    assert path == [("a046", "demo.middle"), ("ae02", "demo.broken")]
    info = ActionInfo("a1", "demo.top", "a0", "r", phase=Phase.FAILED,
                      error=ActionError("ZeroDivisionError", message))
    from flyte_jupyter.kernel._tree import Entry

    html = row_html(Entry("a1", 1, info, "a0"), "top(x=3)")
    assert html.count("ZeroDivisionError") == 2  # the text and its tooltip, nothing repeated
    assert "in middle › broken" in html and "top(x=3)" in html


def test_internal_class_names_never_show() -> None:
    line = "flyte_jupyter._internal.controllers.local.TypeMismatchErrorFromTask: output of task 't' expects int"
    assert public_text(line) == "TypeMismatchError: output of task 't' expects int"
    assert clean_traceback("Traceback (most recent call last):\n" + line) == \
        "TypeMismatchError: output of task 't' expects int"
    from flyte_jupyter.errors import ActionFailedError

    err = ActionFailedError(action="a1", task="t", kind="TypeMismatchError", message="expects int",
                            traceback=line)
    assert "flyte_jupyter." not in "\n".join(format_failure(err))


def test_a_cells_frame_is_named_by_the_cell_and_counts_the_magic_line() -> None:
    import linecache

    from flyte_jupyter.kernel._errors import register_cell

    name = "<flyte cell feedbeef0001>"
    linecache.cache[name] = (10, None, ["x = 1\n", "x / 0\n"], name)
    register_cell(name, 7)
    text = f'Traceback (most recent call last):\n  File "{name}", line 2, in cell\nZeroDivisionError: division by zero'
    cleaned = clean_traceback(text)
    assert "Cell In[7] (%%flyte run), line 3, in cell" in cleaned  # line 1 of the cell is the magic
    assert "    x / 0" in cleaned


def test_labels_are_short_forms_of_the_inputs() -> None:
    assert label_of("sweep.trial", {"lr": value_word(0.05), "i": value_word(4)}) == "trial(lr=0.05, i=4)"
    assert label_of("sweep.trial", None) == "trial"
    assert value_word("a rather long text value") == "'a rather lo…'"
    assert value_word(list(range(100))) == "[100 items]"
    long = label_of("t.f", {f"k{i}": value_word(i * 1000) for i in range(20)})
    assert len(long) <= 60 and long.endswith("…)")
    from flyte_jupyter._internal.wire.proto import literals_pb2

    lit = literals_pb2.Literal(float=0.30000000000000004)
    assert literal_word(lit) == "0.3"
    assert literal_word(literals_pb2.Literal(str="hello")) == "'hello'"


def test_progress_of_a_gather_has_throughput_and_eta() -> None:
    now = float(int(time.time()))
    actions = {"a0": ActionInfo("a0", "t", None, "r", phase=Phase.RUNNING, started_at=now - 10)}
    for i in range(20):
        done = i < 5
        actions[f"c{i}"] = ActionInfo(f"c{i}", "s.trial", "a0", "r",
                                      phase=Phase.SUCCEEDED if done else Phase.RUNNING,
                                      started_at=now - 10, ended_at=now - 5 if done else None)
    prog = children_progress(actions)["a0"]
    data = prog.data(now)
    assert (data["done"], data["total"]) == (5, 20)
    assert data["rate"] == 0.5 and data["eta"] == 30
    assert Progress(done=3, total=3, first_start=now - 3, last_end=now).eta(now) is None
    entries, _ = visible_entries(actions, set(), {}, 20, 150)
    html = row_html(entries[0], "cell", prog, now)
    assert "5/20" in html and "0.5/s" in html and "ETA 30s" in html


def test_live_durations_tick_in_whole_seconds() -> None:
    assert duration_text(0.4, live=True) == "0s" and duration_text(7.9, live=True) == "7s"
    assert duration_text(0.01) == "<0.1s" and duration_text(2.25) == "2.2s" and duration_text(65) == "1m05s"
    from flyte_jupyter.kernel._tree import shown_duration

    # retried: its duration runs from the first start, not up to the end of the failed attempt
    info = ActionInfo("a1", "t", None, "r", phase=Phase.RUNNING, attempts=2, started_at=time.time() - 3,
                      ended_at=time.time() - 2)
    assert shown_duration(info) == 3.0


class _Run:
    name, mode = "r", "local"

    def __init__(self) -> None:
        self.state = RunState("r")


def _emit(run: _Run, phase: Phase, attempt: int, ts: float, error: ActionError | None = None) -> None:
    run.state.apply(ActionEvent("r", "a1", "t.flaky", "a0", phase, attempt, ts, error))


def test_attempt_history_local_style() -> None:
    run = _Run()
    book = AttemptBook(run)
    err = ActionError("ValueError", "boom")
    _emit(run, Phase.QUEUED, 0, 100.0)
    _emit(run, Phase.RUNNING, 1, 100.0)
    _emit(run, Phase.FAILED, 1, 101.0, err)
    _emit(run, Phase.QUEUED, 1, 103.0)
    _emit(run, Phase.RUNNING, 2, 103.0)
    _emit(run, Phase.SUCCEEDED, 2, 104.5)
    info = run.state.get("a1")
    assert info is not None
    atts = book.attempts(info)
    assert [(a.number, a.phase) for a in atts] == [(1, "FAILED"), (2, "SUCCEEDED")]
    assert atts[0].error is err and atts[0].duration == 1.0 and atts[0].backoff == 2.0
    assert atts[1].error is None and atts[1].duration == 1.5


def test_attempt_history_remote_style() -> None:
    run = _Run()
    book = AttemptBook(run)
    err = ActionError("ValueError", "boom")
    _emit(run, Phase.RUNNING, 1, 100.0)
    _emit(run, Phase.QUEUED, 1, 100.0, err)  # the backend's retry: QUEUED with the attempt's error
    _emit(run, Phase.RUNNING, 2, time.time() + 1)
    _emit(run, Phase.FAILED, 2, time.time() + 2, ActionError("ValueError", "boom again"))
    info = run.state.get("a1")
    assert info is not None
    atts = book.attempts(info)
    assert [(a.number, a.phase, str(a.error)) for a in atts] == [
        (1, "FAILED", "ValueError: boom"), (2, "FAILED", "ValueError: boom again")]
    assert atts[0].backoff is not None


def test_values_at_a_glance() -> None:
    import zlib

    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"a": range(1000), "b": ["x"] * 1000})
    html = value_html(frame)
    assert "DataFrame" in html and "1,000 × 2" in html and html.count("<tr") == 6  # header and 5 rows
    text = value_html("y" * 5000)
    assert "5,000 characters" in text and len(text) < 500

    def chunk(kind: bytes, data: bytes) -> bytes:
        import struct

        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", b"\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00")
           + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))
    assert 'class="flyte-thumbnail"' in value_html(png)

    class Plot:
        def _repr_png_(self) -> bytes:
            return png

    assert "data:image/png;base64," in value_html(Plot())


def test_the_output_pane_and_labels_in_a_view() -> None:
    from flyte_jupyter.kernel._views import RunView

    class FakeRun(_Run):
        name, task, url = "fake-view", None, None

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
            return "fake"

    run = FakeRun()
    view = RunView(run).start()
    run.state.apply(ActionEvent("fake-view", "a0", "nb.cell", None, Phase.RUNNING, 1, time.time()))
    for i in range(3):
        run.state.apply(ActionEvent("fake-view", f"c{i}", "s.trial", "a0", Phase.RUNNING, 1, time.time()))
        run.state.annotate(f"c{i}", inputs={"lr": 0.1, "i": i})
        view.output.write(f"c{i}", "stdout", f"hello from {i}\n")
    for i in range(3):
        run.state.apply(ActionEvent("fake-view", f"c{i}", "s.trial", "a0", Phase.SUCCEEDED, 1, time.time()))
    run.state.apply(ActionEvent("fake-view", "a0", "nb.cell", None, Phase.SUCCEEDED, 1, time.time()))
    view.finish()
    assert view.render_error is None
    assert [n["label"] for n in view.tree.nodes] == ["cell", "trial(lr=0.1, i=0)", "trial(lr=0.1, i=1)",
                                                     "trial(lr=0.1, i=2)"]
    assert view.tree.nodes[0]["children"]["done"] == 3
    assert [(x["label"], x["text"]) for x in view.output_pane.lines] == [
        (f"trial(lr=0.1, i={i})", f"hello from {i}") for i in range(3)]
    assert view.abort_button.layout.display == "none"  # a finished run has nothing to abort
    _streams.forget("fake-view")


def test_the_timeline_shown_as_a_remote_run_ends_gets_every_rows_label(tmp_path: Path) -> None:
    """A click on the timeline tab while the view takes its last look at an ended run: the labels
    that tab asks for (read from storage, a batch at a time) all arrive, not only the first batch."""
    from types import SimpleNamespace

    from flyte_jupyter._internal.wire.proto import literals_pb2
    from flyte_jupyter.kernel._views import RunView

    latest: dict[str, Any] = {}
    for i in range(120):  # three batches of labels
        lm = literals_pb2.LiteralMap()
        lm.literals["i"].int = i
        path = tmp_path / f"c{i}.pb"
        path.write_bytes(lm.SerializeToString())
        latest[f"c{i}"] = SimpleNamespace(inputs_uri=str(path))

    class RemoteRun(_Run):
        name, mode, task, url = "remote-view", "remote", None, None
        client = object()
        _latest = latest

        @property
        def done(self) -> bool:
            root = self.state.get("a0")
            return bool(root and root.phase.terminal)

        @property
        def phase(self) -> Phase:
            root = self.state.get("a0")
            return root.phase if root else Phase.QUEUED

        def tree_text(self) -> str:
            return "remote"

    run = RemoteRun()
    view = RunView(run, interval=0.5).start()
    now = time.time()
    run.state.apply(ActionEvent(run.name, "a0", "nb.cell", None, Phase.RUNNING, 1, now))
    for i in range(120):
        run.state.apply(ActionEvent(run.name, f"c{i}", "s.sq", "a0", Phase.SUCCEEDED, 1, now))
    run.state.apply(ActionEvent(run.name, "a0", "nb.cell", None, Phase.SUCCEEDED, 1, now + 1))
    time.sleep(0.2)  # the loop has seen the end and pauses for its last look
    view.show_tab("timeline")
    deadline = time.monotonic() + 20
    svg = ""
    while time.monotonic() < deadline:
        svg = view.timeline.svg.value
        if "sq(i=0)" in svg and "sq(i=119)" in svg:
            break
        time.sleep(0.1)
    view.finish()
    assert view.render_error is None
    assert "sq(i=0)" in svg and "sq(i=119)" in svg, "labels missing from the timeline"
    _streams.forget(run.name)

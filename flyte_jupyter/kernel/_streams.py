"""Every action's output as one capped stream per run: what the run widget shows under its tree,
the same in local and in remote mode.

`RunOutput` keeps, for at most `RUN_ACTIONS` actions of a run, each action's latest
`PER_ACTION_LINES` lines, and the run's latest `RECENT_LINES` lines interleaved (the widget's
stream, each line prefixed with its action). A `\\r` inside a line (a progress bar redrawing
itself, as tqdm does) keeps only the line's latest state, and an unterminated line (a bar still
moving) shows as it is now. Lines longer than `LINE_CHARS` are cut.

Where the lines come from:

- local runs: the actions run in this process. `install_router()` puts a thin router on
  `sys.stdout` / `sys.stderr`: a write made inside an action of a run that has a live RunOutput
  (known from the action context the write runs in, a contextvar, so asyncio tasks and the worker
  threads of sync tasks are attributed right) goes to that RunOutput; any other write goes to the
  stream as before. An action that prints more than is kept has all its lines written to a file
  under the data directory (`local-runs/RUN/logs/ACTION.log`), so its full log stays one click (or
  `%flyte logs RUN ACTION`) away.
- remote runs: `_echo.LogFollower` tails the actions' logs on the backend into the RunOutput.

The root action of a `%%flyte run` cell is the cell's own code: what it prints goes to the cell's
output as any cell's would (`echo_root`), its first `ROOT_CELL_LINES` lines; after those, its lines
go to the widget's stream with the rest, and the cell says so once when it ends.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path
from typing import Any, Callable, TextIO

ROOT = "a0"
PER_ACTION_LINES = 200
RUN_ACTIONS = 200
RECENT_LINES = 200
LINE_CHARS = 500
ROOT_CELL_LINES = 500
MAX_SPILL_FILES = 64
MAX_REMEMBERED = 50
MARKER = "flyte"  # the stream of the stream's own lines (a retry's marker)


class Line:
    """One line of an action's output; an open line (no newline yet) changes in place."""

    __slots__ = ("seq", "action", "stream", "text", "attempt")

    def __init__(self, seq: int, action: str, stream: str, attempt: int) -> None:
        self.seq, self.action, self.stream, self.text, self.attempt = seq, action, stream, "", attempt


class _ActionLog:
    __slots__ = ("lines", "total", "open", "spill", "attempt", "echoed")

    def __init__(self) -> None:
        self.lines: collections.deque[Line] = collections.deque(maxlen=PER_ACTION_LINES)
        self.total = 0
        self.open: dict[str, Line] = {}
        self.spill: TextIO | None = None
        self.attempt = 1
        self.echoed = 0  # lines that went to the cell instead (the root of a %%flyte run cell)


def _latest_state(text: str) -> str:
    """A line that redraws itself with `\\r` shows its latest state (the last non-empty part)."""
    if "\r" not in text:
        return text
    parts = [p for p in text.split("\r") if p]
    return parts[-1] if parts else ""


class RunOutput:
    """The output of one run's actions, capped, for the widget, the details and `%flyte logs`."""

    def __init__(self, run_name: str, *, echo_root: bool = False, spill_dir: Path | None = None) -> None:
        self.run_name = run_name
        self.echo_root = echo_root
        self.spill_dir = spill_dir
        self.version = 0
        self.total_lines = 0
        self.untracked_lines = 0  # from actions beyond RUN_ACTIONS: counted, not kept
        self._untracked: set[str] = set()
        self._root_echo_left = ROOT_CELL_LINES if echo_root else 0
        self._root_capped = False
        self._lock = threading.Lock()
        self._logs: dict[str, _ActionLog] = {}
        self._recent: collections.deque[Line] = collections.deque(maxlen=RECENT_LINES)
        self._seq = 0
        self._spills = 0
        self._listeners: list[Callable[[], None]] = []

    def enable_root_echo(self) -> None:
        """The root's first lines go to the cell (a `%%flyte run` cell's own prints)."""
        with self._lock:
            if not self.echo_root:
                self.echo_root = True
                self._root_echo_left = ROOT_CELL_LINES

    # -- feeding -----------------------------------------------------------------------------------

    def write(self, action: str, stream: str, text: str, attempt: int = 1) -> bool:
        """Take `text` written by `action` (chunks, as `write()` gets them). Returns False when
        the caller should also pass it on to the cell (the root's first lines, with `echo_root`)."""
        if not text:
            return True
        with self._lock:
            echo = action == ROOT and self._root_echo_left > 0
            if echo:
                self._root_echo_left -= text.count("\n")
                if self._root_echo_left <= 0:
                    self._root_capped = True
            self._take(action, stream, text, attempt, to_recent=not echo)
            self.version += 1
            listeners = self._listeners
        for listener in listeners:
            try:
                listener()
            except Exception:  # a broken view must not break the task that printed
                pass
        return not echo

    def _take(self, action: str, stream: str, text: str, attempt: int, to_recent: bool) -> None:
        log = self._logs.get(action)
        if log is None:
            if len(self._logs) >= RUN_ACTIONS:
                self._untracked.add(action)
                n = text.count("\n") or 1
                self.untracked_lines += n
                self.total_lines += n
                return
            log = self._logs[action] = _ActionLog()
            log.attempt = attempt
        if attempt > log.attempt:  # a retry: its lines follow a marker
            log.attempt = attempt
            log.open.clear()
            self._take(action, MARKER, f"── attempt {attempt} ──\n", attempt, to_recent)
        if action == ROOT and not to_recent:
            log.echoed += text.count("\n")
        parts = text.split("\n")
        last = len(parts) - 1
        for i, part in enumerate(parts):
            if i == last and not part:
                break  # the text ended with a newline
            line = log.open.get(stream)
            if line is None:
                self._seq += 1
                line = log.open[stream] = Line(self._seq, action, stream, attempt)
                if len(log.lines) == PER_ACTION_LINES:
                    self._start_spill(action, log)
                log.lines.append(line)
                log.total += 1
                self.total_lines += 1
                if to_recent:
                    self._recent.append(line)
            combined = line.text + part
            line.text = _latest_state(combined)[:LINE_CHARS] if ("\r" in part or len(combined) > LINE_CHARS) \
                else combined
            if i < last:  # a newline ends this line
                del log.open[stream]
                if log.spill is not None:
                    try:
                        log.spill.write(line.text + "\n")
                    except (OSError, ValueError):
                        log.spill = None

    def _start_spill(self, action: str, log: _ActionLog) -> None:
        """The action printed more than is kept: from now on all its lines also go to a file."""
        if log.spill is not None or self.spill_dir is None or self._spills >= MAX_SPILL_FILES:
            return
        try:
            self.spill_dir.mkdir(parents=True, exist_ok=True)
            fh = open(self.spill_dir / f"{action}.log", "w", encoding="utf-8", errors="replace")
            for line in log.lines:
                if line is not log.open.get(line.stream):
                    fh.write(line.text + "\n")
        except OSError:
            return
        log.spill = fh
        self._spills += 1

    # -- reading -----------------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        with self._lock:
            self._listeners = [*self._listeners, listener]

        def unsubscribe() -> None:
            with self._lock:
                self._listeners = [x for x in self._listeners if x is not listener]

        return unsubscribe

    def recent(self, limit: int = RECENT_LINES) -> list[tuple[str, str, str, int]]:
        """The run's latest lines, oldest first: (action, stream, text, attempt)."""
        with self._lock:
            lines = list(self._recent)[-limit:]
            return [(ln.action, ln.stream, ln.text, ln.attempt) for ln in lines]

    def lines_of(self, action: str, attempt: int | None = None) -> list[str]:
        """The kept (latest) lines of one action, of one attempt or of all."""
        with self._lock:
            log = self._logs.get(action)
            if log is None:
                return []
            return [ln.text for ln in log.lines
                    if attempt is None or (ln.attempt == attempt and ln.stream != MARKER)]

    def counts(self) -> dict[str, int]:
        """Lines printed per action (what is kept or not)."""
        with self._lock:
            return {name: log.total for name, log in self._logs.items() if log.total}

    def stats(self) -> dict[str, Any]:
        """What the stream holds; lines the cell showed instead (the root's, `echo_root`) are not
        counted."""
        with self._lock:
            kept = sum(len(log.lines) for log in self._logs.values())
            echoed = sum(log.echoed for log in self._logs.values())
            return {"lines": self.total_lines - echoed, "kept": kept,
                    "actions": sum(1 for x in self._logs.values() if x.total > x.echoed),
                    "untracked_actions": len(self._untracked), "untracked_lines": self.untracked_lines,
                    "shown": len(self._recent)}

    def is_truncated(self, action: str) -> bool:
        with self._lock:
            log = self._logs.get(action)
            return log is not None and log.total > len(log.lines)

    def full_log(self, action: str) -> tuple[list[str], bool]:
        """Every line of an action (from its file when it printed more than is kept), and whether
        that is all of them (False: only the latest were kept)."""
        with self._lock:
            log = self._logs.get(action)
            if log is None:
                return [], action not in self._untracked
            fh = log.spill
            if fh is None:
                return [ln.text for ln in log.lines], log.total == len(log.lines)
            try:
                fh.flush()
            except (OSError, ValueError):
                pass
            tail = [ln.text for ln in log.open.values()]
            path = Path(fh.name)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return self.lines_of(action), False
        return text.splitlines() + tail, True

    def root_note(self) -> str | None:
        """What the cell says once at its end when its root printed more than the cell shows."""
        with self._lock:
            if not self._root_capped:
                return None
            log = self._logs.get(ROOT)
            more = (log.total - log.echoed) if log is not None else 0
        if more <= 0:
            return None
        return (f"[flyte] {ROOT} printed {more} more lines than the cell shows ({ROOT_CELL_LINES}); "
                f"the latest are in the run widget's output, all of them: `%flyte logs {self.run_name} {ROOT}`")

    def close(self) -> None:
        """The run has ended and nothing more will be written: close the spill files."""
        with self._lock:
            for log in self._logs.values():
                if log.spill is not None:
                    try:
                        log.spill.close()
                    except OSError:
                        pass


# -- the runs' outputs -------------------------------------------------------------------------------

_outputs: "collections.OrderedDict[str, RunOutput]" = collections.OrderedDict()
_live: dict[str, RunOutput] = {}  # local runs whose actions' writes are captured
_registry_lock = threading.Lock()


def open_output(run_name: str, *, echo_root: bool = False, local: bool = False) -> RunOutput:
    """The RunOutput of a run (made on first use); `local=True` also captures the writes its
    actions make in this process."""
    with _registry_lock:
        out = _outputs.get(run_name)
        if out is None:
            spill = None
            if local:
                from flyte_jupyter import _config

                spill = Path(_config.data_dir()) / "local-runs" / run_name / "logs"
            out = _outputs[run_name] = RunOutput(run_name, echo_root=echo_root, spill_dir=spill)
            while len(_outputs) > MAX_REMEMBERED:
                _, old = _outputs.popitem(last=False)
                _live.pop(old.run_name, None)
                old.close()
        elif echo_root:
            out.enable_root_echo()
        if local:
            _live[run_name] = out
    if local:
        install_router()
    return out


def output_of(run_name: str) -> RunOutput | None:
    with _registry_lock:
        return _outputs.get(run_name)


def stop_capture(run_name: str) -> None:
    """The run has ended: later writes (a thread it left behind) go to the cell again."""
    with _registry_lock:
        out = _live.pop(run_name, None)
    if out is not None:
        out.close()


def forget(run_name: str) -> None:
    """A run replaced by another of the same name (`%%flyte run --overwrite --local`)."""
    with _registry_lock:
        out = _outputs.pop(run_name, None)
        _live.pop(run_name, None)
    if out is not None:
        out.close()


# -- capturing what local actions write ---------------------------------------------------------------


class _Router:
    """Stands in for sys.stdout / sys.stderr: a write inside an action of a captured local run goes
    to its RunOutput; everything else (and every other attribute) is the stream's own."""

    def __init__(self, stream: Any, name: str) -> None:
        self._flyte_stream = stream
        self._flyte_name = name

    def write(self, text: str) -> int:
        if _live:
            tc = _ctx()
            if tc is not None:
                out = _live.get(tc.action.run_name)
                if out is not None and out.write(tc.action.name, self._flyte_name, text, tc.attempt):
                    return len(text)
        return self._flyte_stream.write(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._flyte_stream, name)


_context_of: Callable[[], Any] | None = None


def _ctx() -> Any:
    tc = _context_of() if _context_of is not None else None
    return tc if tc is not None and tc.mode == "local" else None


def install_router() -> None:
    """Route sys.stdout and sys.stderr (once; a stream someone else put in place is wrapped too)."""
    import sys

    global _context_of
    if _context_of is None:
        from flyte_jupyter._context import ctx

        _context_of = ctx
    if not isinstance(sys.stdout, _Router) and sys.stdout is not None:
        sys.stdout = _Router(sys.stdout, "stdout")  # type: ignore[assignment]
    if not isinstance(sys.stderr, _Router) and sys.stderr is not None:
        sys.stderr = _Router(sys.stderr, "stderr")  # type: ignore[assignment]

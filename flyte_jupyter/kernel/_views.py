"""RunView: the live widget of one run (header, progress, action tree, the actions' output, Abort);
`_text_view` holds its terminal twin.

Both are fed by `run.state.subscribe`, for local and remote runs alike. The subscriber only marks
the view dirty (and wakes the views loop once per render interval); rendering happens on the views
loop at most `1/interval` times a second from a snapshot of the state, so event storms coalesce and
a run of a thousand actions sends the frontend a handful of updates per second. The actions'
output (`_streams.RunOutput`: captured in this process for a local run, tailed from the backend by
`_echo.LogFollower` for a remote one) marks the view dirty the same way.

A view that stops hearing from its kernel says so: while the run is live the header carries a CSS
animation, restarted by every render (at least once a second, with the clock), that after a few
seconds without one shows "not updating" and greys the Abort button out; and when the kernel shuts
down or restarts, every live view is told first (`disconnect_all`). A finished view has no Abort
button.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from typing import Any

import ipywidgets as widgets
import traitlets

from flyte_jupyter._internal.display.timeline import layout, timeline_text
from flyte_jupyter._internal.wire.models import ActionInfo, Phase
from flyte_jupyter.kernel import _loop, _streams
from flyte_jupyter.kernel._attempts import book_for
from flyte_jupyter.kernel._details import Details, details_html, fetch, fetch_full_log
from flyte_jupyter.kernel._format import duration_text, elapsed, esc, phase_badge
from flyte_jupyter.kernel._labels import Labels
from flyte_jupyter.kernel._run_buttons import ResumeButton, debug_button
from flyte_jupyter.kernel._timeline_view import TimelinePane
from flyte_jupyter.kernel._tree import (
    ROOT,
    ActionTree,
    Entry,
    FoldCache,
    LiveSummary,
    MoreRow,
    Progress,
    Row,
    failure_path,
    group_data,
    group_html,
    node_data,
    row_html,
    visible_entries,
)

DETAIL_REFRESH_S = 1.0
STREAM_LINES = 60  # the latest output lines the widget shows
STREAM_EVERY_S = 0.5  # while the run is live, the output box changes at most this often
STALE_AFTER_S = 6  # no render for this long while the run is live: the view says it is not updating
ACTIONS_PER_SECOND_OF_SPACING = 10_000  # a live run of N actions renders at most every N/10,000 s
MAX_SPACING_S = 2.0  # ... and at least every 2 s (well below STALE_AFTER_S)
STATUS_EVERY_S = 2.0  # how often a remote run with queued actions asks the backend how busy it is
MAX_LABEL_BATCHES_PER_RENDER = 10  # an ended run's view reads at most this many batches of labels a render
# stderr as Jupyter shows it (a tinted background); the stream's own marker lines dimmed
_STREAM_STYLES = {"stderr": "background:var(--jp-rendermime-error-background,#fdd)",
                  "flyte": "opacity:.6;font-style:italic"}
_ids = itertools.count(1)


class OutputPane(widgets.VBox):
    """The run's output: its latest lines, each prefixed with its action, collapsible. The model
    carries the shown lines as data (`lines`: action, label, stream, text) for tools and tests."""

    lines = traitlets.List(traitlets.Dict()).tag(sync=True)
    total_lines = traitlets.Int(0).tag(sync=True)
    actions = traitlets.Int(0).tag(sync=True)
    not_followed = traitlets.Int(0).tag(sync=True)  # actions whose output is not followed or kept


class RunView:
    """The widget of one run. `show()` displays it; it follows the run until it ends."""

    def __init__(self, run: Any, *, interval: float = 0.2, max_children: int = 20, max_rows: int = 150,
                 echo_root: bool = False, cell_loop: asyncio.AbstractEventLoop | None = None) -> None:
        self.run = run
        self.interval = interval
        self.max_children = max_children
        self.max_rows = max_rows
        self.opened = time.time()
        self.uid = next(_ids)
        self._lock = threading.Lock()
        self._expanded: set[str] = set()
        self._limits: dict[str, int] = {}
        self._details: dict[str, Details] = {}
        self._detail_at: dict[str, float] = {}
        self._full_log_wanted: set[str] = set()
        self._rows: dict[str, Row] = {}
        self._more: dict[str, MoreRow] = {}
        self._full_log_buttons: dict[str, widgets.Button] = {}
        self._dirty = True
        self._wake: asyncio.Event | None = None
        self._halt: asyncio.Event | None = None
        self._task: Any = None
        self._unsubscribe: Any = None
        self._unsubscribe_output: Any = None
        self._finished = threading.Event()
        self._handle: Any = None
        self._stop = False
        self._ended_cleanly = False
        self._disconnected: str | None = None
        self._root_ended_at: float | None = None
        self._output_version: Any = None
        self._output_at = 0.0
        self._status_at = 0.0
        self._wait_note = ""
        self._cell_loop = cell_loop
        self.renders = 0
        self._summary = LiveSummary(run.state.get)  # counts and progress, kept up to date by `_on_event`
        self._summary_stale = True  # rebuilt from every action at the next render
        self._folds = FoldCache()  # the tree's children folded so far (views loop only)
        self.render_failures = 0
        self.render_error: str | None = None
        self._plain: tuple[Any, str] | None = None  # (what it was made from, the plain text)

        self.labels = Labels(run)
        self.attempts = book_for(run)
        local = getattr(run, "mode", "local") == "local"
        self.output = _streams.output_of(run.name) or _streams.open_output(
            run.name, echo_root=echo_root, local=local and not run.done)
        self.follower: Any = None

        self.header = widgets.HTML("")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="260px"))
        self.counts = widgets.HTML("", layout=widgets.Layout(margin="0 8px"))
        self.note = widgets.HTML("", layout=widgets.Layout(margin="0 8px"))
        self.note.add_class("flyte-wait-note")
        self.abort_button = widgets.Button(description="Abort", icon="stop", button_style="danger",
                                           tooltip="abort the run and all its live actions",
                                           layout=widgets.Layout(width="auto"))
        self.abort_button.add_class("flyte-abort")
        self.abort_button.on_click(lambda _b: self.abort())
        self.tree = ActionTree(layout=widgets.Layout(max_height="420px", overflow="auto"))
        self.tree.add_class("flyte-action-tree")
        self.tree.run_name = run.name
        self.output_toggle = widgets.Button(description="", icon="caret-down", tooltip="show or hide the output",
                                            layout=widgets.Layout(width="26px", height="22px", padding="0"))
        self.output_toggle.on_click(lambda _b: self.toggle_output())
        self.output_summary = widgets.HTML("")
        self.output_body = widgets.HTML("", layout=widgets.Layout(margin="0 0 0 30px"))
        self.output_pane = OutputPane([widgets.HBox([self.output_toggle, self.output_summary],
                                                    layout=widgets.Layout(align_items="center")),
                                       self.output_body], layout=widgets.Layout(display="none"))
        self.output_pane.add_class("flyte-output")
        self._output_open = True
        self.actions_out = widgets.Output()  # what Resume and Debug print, and the resumed run's widget
        self.resume = ResumeButton(run, self.actions_out, lambda new: type(self)(new).show())
        self._debug_buttons: dict[str, widgets.Button] = {}
        self.timeline = TimelinePane(run, self.labels.label)
        self.tabs = widgets.ToggleButtons(options=[("tree", "tree"), ("timeline", "timeline")], value="tree",
                                          tooltips=["the action tree", "when each action waited, started and ran"],
                                          style={"button_width": "84px"})
        self.tabs.add_class("flyte-view-tabs")
        self.tabs.observe(lambda change: self.show_tab(change["new"]), "value")
        bar = widgets.HBox([self.progress, self.counts, self.note, self.abort_button, self.resume.button, self.tabs],
                           layout=widgets.Layout(align_items="center"))
        self.widget = widgets.VBox([self.header, bar, self.tree, self.timeline.widget, self.output_pane,
                                    self.actions_out])
        self.widget.add_class("flyte-run-view")
        self.widget.add_class(f"flyte-view-{self.uid}")

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> "RunView":
        """Render now and follow the run until it ends."""
        self._unsubscribe = self.run.state.subscribe(self._on_event)
        self._summary_stale = True  # changes before the subscription were not seen one by one
        self._unsubscribe_output = self.output.subscribe(self._on_output)
        if getattr(self.run, "mode", "") == "remote" and getattr(self.run, "client", None) is not None:
            from flyte_jupyter.kernel._echo import LogFollower

            self.follower = LogFollower(self.run, self.output, cell_loop=self._cell_loop)
        _register(self)
        self._task = _loop.submit(self._follow())
        return self

    def show(self) -> "RunView":
        """Display the widget (with the text tree as the plain-text fallback) and follow the run."""
        from IPython.display import display

        self.render_now()
        self._handle = display(self._bundle(), raw=True, display_id=True)
        if not self.run.done:
            self.start()
        else:
            self._finished.set()
        return self

    async def settle(self, timeout: float = 10.0) -> None:
        """For the cell that awaits the run: let the root's own lines reach the cell, and the
        other actions' last lines reach the view, before the cell ends."""
        follower = self.follower
        if follower is not None:
            await follower.settle_root(timeout)
            await asyncio.to_thread(follower.drain, min(timeout, 5.0))
        note = self.output.root_note()
        if note:
            print(note, flush=True)

    def finish(self, timeout: float = 30.0) -> None:
        """Stop following and render the final state before returning (so whoever saves the
        notebook's widget state, or reads the models, sees the end of the run). The view hears
        the run's changes until that render, so its counts need no pass over every action."""
        task = self._task
        if task is not None:
            self._task = None
            self._stop = True
            _loop.call_soon(self._halt_now)
            try:
                task.result(timeout)
            except Exception:
                pass
        self._end_streams()
        self.render_now()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        self._finished.set()
        if self._handle is not None:
            try:
                self._handle.update(self._bundle(), raw=True)
            except Exception:
                pass

    def _end_streams(self, wait: float = 3.0) -> None:
        """The run has ended: the last lines land, then the capture and the follower stop."""
        if not self.run.done:
            return
        if self.follower is not None:
            self.follower.drain(wait)
            self.follower.close()
        if getattr(self.run, "mode", "") == "local":
            _streams.stop_capture(self.run.name)
        if self._unsubscribe_output is not None:
            self._unsubscribe_output()
            self._unsubscribe_output = None
        self.attempts.close()
        _unregister(self)

    def disconnect(self, reason: str) -> None:
        """The kernel is going away (shutdown, restart): say so in the view, now, from this thread."""
        self._disconnected = reason
        self._stop = True
        try:
            with self.widget.hold_sync():
                self.header.value = self._header_html()
                self.abort_button.layout.display = "none"
        except Exception:
            pass

    def _halt_now(self) -> None:
        for event in (self._wake, self._halt):
            if event is not None:
                event.set()

    def render_now(self, timeout: float = 30.0) -> None:
        """One render, done on the views loop; waits for it."""
        if _loop.on_views_thread():
            self._render()
            return
        fut = _loop.submit(self._render_async())
        try:
            fut.result(timeout)
        except Exception:  # _render_async records its own failures; this is a timeout
            pass

    async def _render_async(self) -> None:
        await self._refresh_details()
        await self._render_with_labels()

    async def _render_with_labels(self) -> None:
        """Render, then read the labels the render asked for (rows opened, a timeline tab shown
        after the run ended), a batch at a time, each batch shown as it comes."""
        self._render()
        for _ in range(MAX_LABEL_BATCHES_PER_RENDER):
            if not (self.labels.pending and await self.labels.read_pending()):
                break
            self._render()

    def _spacing(self) -> float:
        """The pause between two renders of a live run: the interval, longer for a big run (a
        render reads every action, ~1.5 us each: 10,000 actions cost ~15 ms a render), so the
        widget of a run of any size costs the kernel about the same small share of its time."""
        return max(self.interval, min(self.run.state.size() / ACTIONS_PER_SECOND_OF_SPACING, MAX_SPACING_S))

    def _render(self) -> None:
        """Render, and never let a view's bug break the run or the cell: the first failure is
        logged (and kept in `render_error`), later ones are counted."""
        try:
            self._render_unsafe()
        except Exception:
            import logging
            import traceback

            self.render_failures += 1
            if self.render_error is None:
                self.render_error = traceback.format_exc()
                logging.getLogger("flyte_jupyter.kernel").error("run view failed to render:\n%s",
                                                                self.render_error)

    # -- events ------------------------------------------------------------------------------------

    def _on_event(self, _event: Any, info: ActionInfo | None) -> None:
        # Called on the producer's thread for every phase change: O(1), no rendering here.
        if info is not None:
            self._summary.note(info)
        if not self._dirty:
            self._dirty = True
            wake = self._wake
            if wake is not None:
                try:
                    _loop.call_soon(wake.set)
                except RuntimeError:
                    pass

    def _on_output(self) -> None:
        self._on_event(None, None)

    async def _follow(self) -> None:
        self._wake = asyncio.Event()
        self._halt = asyncio.Event()
        first = True
        while not self._stop:
            if not first:
                await _pause(self._wake, 1.0)  # an event, or the clock's tick (elapsed time) at least 1/s
            first = False
            self._wake.clear()
            if self._stop:
                break
            self._dirty = False
            await self._refresh_details()
            await self._refresh_wait_note()
            self._render()
            if self.labels.pending and await self.labels.read_pending():
                self._dirty = True
                self._wake.set()
            if self.run.done and (not self._has_live_details() or self._ended_long_ago()):
                # the root ended: one last look after the final events have landed, then stop
                await _pause(self._halt, self.interval)
                if self.follower is not None:
                    await asyncio.to_thread(self.follower.drain, 3.0)
                await self._refresh_details()
                self._render()
                break
            await _pause(self._halt, self._spacing())  # coalesce: at most one render per interval
        self._finished.set()
        if not self._stop:
            await asyncio.to_thread(self._end_streams)
            # A click while the loop took its last look (a timeline tab shown as the run ended)
            # woke nobody: its render, and the labels that render asks for, happen here.
            self._dirty = True
            while self._dirty and not self._stop:
                self._dirty = False
                await self._render_with_labels()
        if self._handle is not None and not self._stop:
            try:
                self._handle.update(self._bundle(), raw=True)
            except Exception:
                pass

    # -- user actions (frontend clicks arrive on the kernel's main thread) ---------------------------

    def abort(self) -> None:
        if self.run.done or self._disconnected:
            return
        self.abort_button.description = "Aborting…"
        self.abort_button.disabled = True
        threading.Thread(target=self._abort, name="flyte-abort", daemon=True).start()

    def _abort(self) -> None:
        try:
            self.run.abort("aborted from the notebook widget")
        except Exception as exc:
            self.abort_button.description = f"Abort failed: {exc}"[:60]
            self.abort_button.disabled = False
        self._request_render()

    def toggle(self, name: str) -> None:
        with self._lock:
            if name in self._expanded:
                self._expanded.discard(name)
            else:
                self._expanded.add(name)
                self._detail_at.pop(name, None)
        self._request_render()

    def show_tab(self, name: str) -> None:
        """The tree or the timeline (a tab beside the tree)."""
        self.tree.layout.display = "none" if name == "timeline" else ""
        self.timeline.show(name == "timeline")
        self._request_render()  # the rows' labels it asked for are read on the views loop

    def toggle_output(self) -> None:
        self._output_open = not self._output_open
        self._output_version = None
        self._request_render()

    def load_full_log(self, name: str) -> None:
        """The "full log" button of an expanded action: its whole log in its details."""
        with self._lock:
            if name in self._full_log_wanted:
                self._full_log_wanted.discard(name)
                det = self._details.get(name)
                if det is not None:
                    det.full_log = None
            else:
                self._full_log_wanted.add(name)
            self._detail_at.pop(name, None)
        self._request_render()

    def show_more(self, key: str) -> None:
        """Widen the window of children of a parent ("" for the top) or of a group's members."""
        with self._lock:
            self._limits[key] = self._limits.get(key, self.max_children) + 5 * self.max_children
        self._request_render()

    def _request_render(self) -> None:
        # once the follow loop has ended (the run is over), a click (a row opened) renders by itself
        task = self._task
        if task is not None and not task.done() and self._wake is not None:
            self._dirty = True
            _loop.call_soon(self._wake.set)
        else:
            _loop.submit(self._render_async())

    # -- rendering (views loop only) ---------------------------------------------------------------

    def _ended_long_ago(self) -> bool:
        """Expanded actions still live after the root ended are followed for a minute at most."""
        if self._root_ended_at is None:
            self._root_ended_at = time.monotonic()
        return time.monotonic() - self._root_ended_at > 60.0

    def _has_live_details(self) -> bool:
        with self._lock:
            return False if not self._expanded else any(
                (info := self.run.state.get(n)) is not None and not info.phase.terminal for n in self._expanded)

    async def _refresh_details(self) -> None:
        with self._lock:
            names = list(self._expanded)
            full = set(self._full_log_wanted)
        now = time.monotonic()
        for name in names:
            info = self.run.state.get(name)
            if info is None:
                continue
            fetched = self._detail_at.get(name)
            final = name in self._details and info.phase.terminal and fetched is not None and fetched < 0
            if final or (fetched is not None and fetched >= 0 and now - fetched < DETAIL_REFRESH_S):
                continue
            previous = self._details.get(name)
            det = await fetch(self.run, info, self.output, previous)
            if name in full:
                try:
                    det.full_log, det.full_log_note = await fetch_full_log(self.run, info, self.output)
                except Exception as exc:
                    det.full_log, det.full_log_note = [], f"the full log could not be read: {exc}"
            self._details[name] = det
            self._detail_at[name] = -1.0 if info.phase.terminal else time.monotonic()

    async def _refresh_wait_note(self) -> None:
        """Why actions wait: how busy the backend is, asked while the run has queued actions."""
        client = getattr(self.run, "client", None)
        if client is None or getattr(self.run, "mode", "") != "remote":
            return
        if self._summary_stale or self._summary.size() < self.run.state.size():
            return  # the counts are rebuilt at the next render; the note waits for them
        queued = self._summary.count(Phase.QUEUED)
        if not queued:
            self._wait_note = ""
            return
        if time.monotonic() - self._status_at < STATUS_EVERY_S:
            return
        self._status_at = time.monotonic()
        try:
            from flyte_jupyter._internal.client.calls import acall

            facts = await acall(lambda: client.status())
        except Exception:
            return
        slots = int(facts.get("max_parallelism") or 0)
        busy = int(facts.get("running_actions") or 0)
        waiting = int(facts.get("queued_actions") or 0)
        cpu, cpu_used = float(facts.get("cpu_capacity") or 0), float(facts.get("cpu_requested") or 0)
        if slots and busy >= slots:
            self._wait_note = (f"{queued} waiting: {busy} of {slots} slots busy on the backend"
                               + (f", {waiting} queued there" if waiting else ""))
        elif not slots and cpu and waiting:  # admitted by requests: say how much of the capacity is taken
            self._wait_note = (f"{queued} waiting: cpu {cpu_used:g} of {cpu:g} requested on the backend, "
                               f"{waiting} queued there")
        else:
            self._wait_note = f"{queued} queued" + (f" ({busy} of {slots} slots busy)" if slots else "")

    def _header_html(self, phase: str | None = None, took: float | None = None) -> str:
        run = self.run
        root = run.state.get(ROOT)
        if phase is None:
            phase = root.phase.value if root else "QUEUED"
        if took is None:
            started = root.started_at if root else None
            ended = root.ended_at if root and root.phase.terminal else None
            took = elapsed(started, ended, self.opened)
        live = not run.done
        gone = ' data-disconnected="1"' if self._disconnected else ""
        parts = [f'<div class="flyte-run-header" data-run="{esc(run.name)}" data-phase="{esc(phase)}"{gone}>'
                 f'<b>Run</b> <code>{esc(run.name)}</code> <span style="opacity:.7">({esc(run.mode)})</span> '
                 f'{phase_badge(phase)} · {esc(duration_text(took, live=live))}']
        if getattr(run, "deployed", None):
            parts.append(f' · <span class="flyte-deployed">deployed {esc(run.deployed)}</span>')
        if run.mode == "remote" and getattr(run, "url", None):
            parts.append(f' · <span style="opacity:.7">{esc(run.url)}</span>')
        if self._disconnected:
            parts.append(f' <span class="flyte-disconnected" style="color:#ef6c00;font-weight:600">'
                         f'⚠ disconnected: {esc(self._disconnected)}</span>')
        elif live:
            parts.append(self._stale_html(int(took)))
        parts.append("</div>")
        return "".join(parts)

    def _stale_html(self, tick: int) -> str:
        """Shown only if no render replaces the header for STALE_AFTER_S seconds: the kernel is gone
        (restarted, shut down, or the notebook was reopened without it) or too busy to update."""
        n = tick % 2  # a new animation name once a second restarts the button's animation too
        view = f".flyte-view-{self.uid}"
        reattach = f"`%flyte status {self.run.name}` shows it again" if self.run.mode == "remote" else \
            "a local run ends with its kernel"
        return (f"<style>@keyframes flyte-stale-{n}{{to{{opacity:1;visibility:visible}}}}"
                f"@keyframes flyte-stale-abort-{n}{{to{{opacity:.35;pointer-events:none}}}}"
                f"{view} .flyte-abort{{animation:flyte-stale-abort-{n} 1ms linear {STALE_AFTER_S}s forwards}}"
                f"</style><span class='flyte-stale' style='opacity:0;visibility:hidden;color:#ef6c00;"
                f"animation:flyte-stale-{n} 1ms linear {STALE_AFTER_S}s forwards'> ⚠ not updating: the kernel "
                f"was restarted, died or is busy ({esc(reattach)})</span>")

    def _render_unsafe(self) -> None:
        self.renders += 1
        run = self.run
        now = time.time()
        actions, children = run.state.snapshot()
        with self._lock:
            expanded = set(self._expanded)
            limits = dict(self._limits)
            full = set(self._full_log_wanted)
        entries, hidden = visible_entries(actions, expanded, limits, self.max_children, self.max_rows,
                                          children_index=children, cache=self._folds)
        # Not subscribed (before `start`, after `finish`): changes are not seen one by one, so the
        # counts are rebuilt; a finished run's last events may land after `finish` unsubscribed.
        if self._summary_stale or self._unsubscribe is None or self._summary.size() < len(actions):
            self._summary_stale = False
            self._summary.sync(actions)
        summary_of = self._summary.summary()
        done = summary_of.done
        total = len(actions)
        root = actions.get(ROOT)
        phase = root.phase.value if root else "QUEUED"
        progress = summary_of.progress
        failed = summary_of.failed

        lines: list[Any] = []
        nodes: list[dict[str, Any]] = []
        groups: list[dict[str, Any]] = []
        for entry in entries:
            lines.extend(self._row_for(entry, progress, failed, now, entry.key in full))
            if entry.info is not None:
                nodes.append(node_data(entry, self.labels.label(entry.info), progress.get(entry.key), now))
            elif entry.members is not None:
                groups.append(group_data(entry, now))
        started = root.started_at if root else None
        ended = root.ended_at if root and root.phase.terminal else None
        took = elapsed(started, ended, self.opened)
        took = took if ended is not None else float(int(took))  # live: whole seconds, one update a second
        header = self._header_html(phase, took)
        summary = ", ".join(f"{n} {p.lower()}" for p, n in sorted(summary_of.by_phase.items()))
        counts = f'<span class="flyte-counts">{done}/{total} finished</span> <span style="opacity:.7">{esc(summary)}</span>'
        note = (f'<span style="opacity:.8" title="the backend runs a limited number of actions at once">'
                f'{esc(self._wait_note)}</span>' if self._wait_note and not run.done else "")
        bar_style = {"SUCCEEDED": "success", "RECOVERED": "success", "FAILED": "danger", "TIMED_OUT": "danger",
                     "ABORTED": "warning"}.get(phase, "info")

        with self.widget.hold_sync():
            if self._disconnected is None and self.header.value != header:
                self.header.value = header
            if self.progress.max != max(total, 1):
                self.progress.max = max(total, 1)
            if self.progress.value != done:
                self.progress.value = done
            if self.progress.bar_style != bar_style:
                self.progress.bar_style = bar_style
            if self.counts.value != counts:
                self.counts.value = counts
            if self.note.value != note:
                self.note.value = note
            if run.done or self._disconnected:
                if self.abort_button.layout.display != "none":
                    self.abort_button.layout.display = "none"  # a finished run has nothing to abort
                self.resume.update()
            boxes = tuple(lines)
            if self.tree.children != boxes:
                self.tree.children = boxes
            if self.tree.nodes != nodes:
                self.tree.nodes = nodes
            if self.tree.groups != groups:
                self.tree.groups = groups
            if self.tree.total != total:
                self.tree.total = total
            if self.tree.hidden != hidden:
                self.tree.hidden = hidden
            self._render_output(actions)
            self.timeline.maybe_draw()

    def _render_output(self, actions: dict[str, ActionInfo]) -> None:
        out = self.output
        version = (out.version, self.labels.version, self._output_open)
        if version == self._output_version:
            return
        if not self.run.done and self._output_version is not None and \
                time.monotonic() - self._output_at < STREAM_EVERY_S:
            return  # the next event or the clock's tick (within a second) brings it up to date
        self._output_version = version
        self._output_at = time.monotonic()
        recent = out.recent(STREAM_LINES)
        stats = out.stats()
        not_followed = stats["untracked_actions"] + (self.follower.skipped if self.follower is not None else 0)
        pane = self.output_pane
        if not recent and not not_followed:
            if pane.layout.display != "none":
                pane.layout.display = "none"
            return
        if pane.layout.display != "":
            pane.layout.display = ""
        labels: dict[str, str] = {}
        shown: list[dict[str, Any]] = []
        for action, stream, text, _attempt in recent:
            label = labels.get(action)
            if label is None:
                info = actions.get(action)
                label = labels[action] = self.labels.label(info) if info is not None else action
            shown.append({"action": action, "label": label, "stream": stream, "text": text})
        older = stats["lines"] - len(recent)
        facts = [f"{stats['lines']:,} lines from {stats['actions']} action{'s' if stats['actions'] != 1 else ''}"]
        if older > 0:
            facts.append(f"the latest {len(recent)} shown; an action's own lines: open its row")
        if not_followed:
            facts.append(f"{not_followed} more actions' output not followed here "
                         f"(`%flyte logs {self.run.name} ACTION`)")
        summary = (f'<span class="flyte-output-summary" style="font-size:12px"><b>output</b> '
                   f'<span style="opacity:.7">{esc(" · ".join(facts))}</span></span>')
        if self._output_open:
            rows = []
            for line in shown:
                css = _STREAM_STYLES.get(line["stream"])
                style = f' style="{css}"' if css else ""
                rows.append(f'<span style="opacity:.6">[{esc(line["label"])}]</span> <span{style}>'
                            f'{esc(line["text"])}</span>')
            # column-reverse keeps the box scrolled to its newest line
            body = ('<div class="flyte-stream" style="display:flex;flex-direction:column-reverse;max-height:16em;'
                    'overflow:auto;font-family:var(--jp-code-font-family,monospace);font-size:11px;line-height:1.35;'
                    'white-space:pre;border-left:2px solid var(--jp-border-color2,#ccc);padding-left:6px">'
                    f'<div>{chr(10).join(rows)}</div></div>')
        else:
            body = ""
        icon = "caret-down" if self._output_open else "caret-right"
        if self.output_toggle.icon != icon:
            self.output_toggle.icon = icon
        if self.output_summary.value != summary:
            self.output_summary.value = summary
        if self.output_body.value != body:
            self.output_body.value = body
        if pane.lines != shown:
            pane.lines = shown
        if pane.total_lines != stats["lines"]:
            pane.total_lines = stats["lines"]
        if pane.actions != stats["actions"]:
            pane.actions = stats["actions"]
        if pane.not_followed != not_followed:
            pane.not_followed = not_followed

    def _row_for(self, entry: Entry, progress: dict[str, Progress], failed: dict[str, list[ActionInfo]],
                 now: float, full_log: bool) -> Any:
        if entry.info is None and entry.members is None:
            more = self._more.get(entry.key)
            if more is None:
                more = self._more[entry.key] = MoreRow(entry.limit_key, self.show_more)
            return more.update(entry)
        row = self._rows.get(entry.key)
        if row is None:
            row = self._rows[entry.key] = Row(entry.key, self.toggle)
        if entry.members is not None:
            return row.update(entry, None, group_html(entry, now, self.run.name))
        info = entry.info
        assert info is not None
        label = self.labels.label(info)
        below = [self.labels.label(x) for x in failure_path(info, failed)] if info.name in failed else None
        html = row_html(entry, label, progress.get(entry.key), now, below, self.run.name)
        if not entry.expanded:
            return row.update(entry, None, html)
        details = details_html(info, self._details.get(entry.key), label=label,
                               attempts=self.attempts.attempts(info), below=below)
        buttons = [self._full_log_button(entry.key, full_log)]
        if info.phase.value in ("FAILED", "TIMED_OUT") and getattr(self.run, "mode", "") == "remote":
            debug = self._debug_buttons.get(info.name)
            if debug is None:
                debug = self._debug_buttons[info.name] = debug_button(self.run, info.name, self.actions_out)
            buttons.append(debug)
        return row.update(entry, details, html, buttons)

    def _full_log_button(self, name: str, showing: bool) -> widgets.Button:
        button = self._full_log_buttons.get(name)
        if button is None:
            button = self._full_log_buttons[name] = widgets.Button(
                description="", icon="file-text", tooltip="this action's whole log, here",
                layout=widgets.Layout(width="auto", height="22px", margin="0 0 4px 30px", flex="0 0 auto"))
            button.add_class("flyte-full-log-button")
            button.on_click(lambda _b, n=name: self.load_full_log(n))
        text = "hide the full log" if showing else "full log"
        if button.description != text:
            button.description = text
        return button

    # -- display -------------------------------------------------------------------------------------

    def _bundle(self) -> dict[str, Any]:
        return {
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": self.widget.model_id,
            },
            "text/plain": self._plain_text(),
        }

    def _plain_text(self) -> str:
        """The text a frontend without widgets shows (nbconvert): the tree, the latest output and,
        once the run is done, where the time went. Made again only when something changed: the
        end of a run asks for it more than once, and its timeline reads every action."""
        from flyte_jupyter.kernel._text_view import tree_text

        key = (self.run.state.version, self.labels.version, self.output.version, self.run.done)
        if self._plain is not None and self._plain[0] == key:
            return self._plain[1]
        text = tree_text(self.run, self.labels)
        recent = self.output.recent(20)
        if recent:
            actions = self.run.state.actions
            named = {a: self.labels.label(actions[a]) if a in actions else a for a, _s, _t, _n in recent}
            text += "\n\noutput (latest lines):\n" + "\n".join(f"[{named[a]}] {t}" for a, _s, t, _n in recent)
        if self.run.done and self.run.state.size() > 1:  # nbconvert's text: where the time went
            tl = layout(self.run.name, self.run.state.actions, member_segments=False)
            text += "\n\n" + timeline_text(tl, top=3)
        self._plain = (key, text)
        return text

    def close(self) -> None:
        self.finish()
        rows: list[Any] = [*self._rows.values(), *self._more.values()]
        for row in rows:
            row.close()
        for button in self._full_log_buttons.values():
            button.close()
        self.widget.close()


# -- the views this kernel is following, told when the kernel goes away --------------------------------

_live_views: "set[RunView]" = set()
_live_lock = threading.Lock()


def _register(view: RunView) -> None:
    with _live_lock:
        _live_views.add(view)


def _unregister(view: RunView) -> None:
    with _live_lock:
        _live_views.discard(view)


def disconnect_all(reason: str = "the kernel shut down or restarted") -> int:
    """Tell every live view that its kernel is going away; returns how many were told."""
    with _live_lock:
        views = list(_live_views)
        _live_views.clear()
    for view in views:
        what = ("the run goes on on the backend: `%flyte status " + view.run.name + "` after the restart"
                if view.run.mode == "remote" else "this local run stopped with it")
        view.disconnect(f"{reason}; {what}")
    return len(views)


async def _pause(event: asyncio.Event, seconds: float) -> None:
    """Sleep up to `seconds`, or less if `event` is set."""
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass

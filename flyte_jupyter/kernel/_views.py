"""RunView: the live widget of one run (header, progress, action tree, Abort); `_text_view`
holds its terminal twin.

Both are fed by `run.state.subscribe`, for local and remote runs alike. The subscriber only marks
the view dirty (and wakes the views loop once per render interval); rendering happens on the views
loop at most `1/interval` times a second from a snapshot of the state, so event storms coalesce and
a run of a thousand actions sends the frontend a handful of updates per second.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import ipywidgets as widgets

from flyte_jupyter._internal.wire.models import ActionInfo
from flyte_jupyter.kernel import _loop
from flyte_jupyter.kernel._details import Details, details_html, fetch
from flyte_jupyter.kernel._format import duration_text, elapsed, esc, phase_badge
from flyte_jupyter.kernel._tree import (
    ROOT,
    ActionTree,
    Entry,
    MoreRow,
    Row,
    group_data,
    node_data,
    visible_entries,
)

DETAIL_REFRESH_S = 1.0


class RunView:
    """The widget of one run. `show()` displays it; it follows the run until it ends."""

    def __init__(self, run: Any, *, interval: float = 0.2, max_children: int = 20, max_rows: int = 150) -> None:
        self.run = run
        self.interval = interval
        self.max_children = max_children
        self.max_rows = max_rows
        self.opened = time.time()
        self._lock = threading.Lock()
        self._expanded: set[str] = set()
        self._limits: dict[str, int] = {}
        self._details: dict[str, Details] = {}
        self._detail_at: dict[str, float] = {}
        self._rows: dict[str, Row] = {}
        self._more: dict[str, MoreRow] = {}
        self._dirty = True
        self._wake: asyncio.Event | None = None
        self._halt: asyncio.Event | None = None
        self._task: Any = None
        self._unsubscribe: Any = None
        self._finished = threading.Event()
        self._handle: Any = None
        self._stop = False
        self._root_ended_at: float | None = None
        self.renders = 0
        self.render_failures = 0
        self.render_error: str | None = None

        self.header = widgets.HTML("")
        self.progress = widgets.IntProgress(value=0, min=0, max=1, layout=widgets.Layout(width="260px"))
        self.counts = widgets.HTML("", layout=widgets.Layout(margin="0 8px"))
        self.abort_button = widgets.Button(description="Abort", icon="stop", button_style="danger",
                                           tooltip="abort the run and all its live actions",
                                           layout=widgets.Layout(width="auto"))
        self.abort_button.on_click(lambda _b: self.abort())
        self.tree = ActionTree(layout=widgets.Layout(max_height="420px", overflow="auto"))
        self.tree.add_class("flyte-action-tree")
        self.tree.run_name = run.name
        bar = widgets.HBox([self.progress, self.counts, self.abort_button],
                           layout=widgets.Layout(align_items="center"))
        self.widget = widgets.VBox([self.header, bar, self.tree])
        self.widget.add_class("flyte-run-view")

    # -- life cycle ------------------------------------------------------------------------------

    def start(self) -> "RunView":
        """Render now and follow the run until it ends."""
        self._unsubscribe = self.run.state.subscribe(self._on_event)
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

    def finish(self, timeout: float = 30.0) -> None:
        """Stop following and render the final state before returning (so whoever saves the
        notebook's widget state, or reads the models, sees the end of the run)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        task = self._task
        if task is not None:
            self._task = None
            self._stop = True
            _loop.call_soon(self._halt_now)
            try:
                task.result(timeout)
            except Exception:
                pass
        self.render_now()
        self._finished.set()
        if self._handle is not None:
            try:
                self._handle.update(self._bundle(), raw=True)
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
        self._render()

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

    def _on_event(self, _event: Any, _info: ActionInfo) -> None:
        # Called on the producer's thread for every phase change: O(1), no rendering here.
        if not self._dirty:
            self._dirty = True
            wake = self._wake
            if wake is not None:
                try:
                    _loop.call_soon(wake.set)
                except RuntimeError:
                    pass

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
            self._render()
            if self.run.done and (not self._has_live_details() or self._ended_long_ago()):
                # the root ended: one last look after the final events have landed, then stop
                await _pause(self._halt, self.interval)
                self._render()
                break
            await _pause(self._halt, self.interval)  # coalesce: at most one render per interval
        self._finished.set()
        if self._handle is not None and not self._stop:
            try:
                self._handle.update(self._bundle(), raw=True)
            except Exception:
                pass

    # -- user actions (frontend clicks arrive on the kernel's main thread) ---------------------------

    def abort(self) -> None:
        if self.run.done:
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

    def show_more(self, key: str) -> None:
        """Widen the window of children of a parent ("" for the top) or of a group's members."""
        with self._lock:
            self._limits[key] = self._limits.get(key, self.max_children) + 5 * self.max_children
        self._request_render()

    def _request_render(self) -> None:
        if self._task is not None and self._wake is not None:
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
        now = time.monotonic()
        for name in names:
            info = self.run.state.get(name)
            if info is None:
                continue
            fetched = self._detail_at.get(name)
            final = name in self._details and info.phase.terminal and fetched is not None and fetched < 0
            if final or (fetched is not None and fetched >= 0 and now - fetched < DETAIL_REFRESH_S):
                continue
            self._details[name] = await fetch(self.run, info)
            self._detail_at[name] = -1.0 if info.phase.terminal else time.monotonic()

    def _render_unsafe(self) -> None:
        self.renders += 1
        run = self.run
        actions = run.state.actions
        with self._lock:
            expanded = set(self._expanded)
            limits = dict(self._limits)
        entries, hidden = visible_entries(actions, expanded, limits, self.max_children, self.max_rows)
        done = sum(1 for a in actions.values() if a.phase.terminal)
        total = len(actions)
        root = actions.get(ROOT)
        phase = root.phase.value if root else "QUEUED"

        lines: list[Any] = []
        for entry in entries:
            lines.extend(self._row_for(entry))
        nodes = [node_data(entry) for entry in entries if entry.info is not None]
        groups = [group_data(entry) for entry in entries if entry.members is not None]
        started = root.started_at if root else None
        ended = root.ended_at if root and root.phase.terminal else None
        took = elapsed(started, ended, self.opened)
        took = took if ended is not None else float(int(took))  # live: whole seconds, one update a second
        header = (f'<div class="flyte-run-header" data-run="{esc(run.name)}" data-phase="{esc(phase)}">'
                  f'<b>Run</b> <code>{esc(run.name)}</code> <span style="opacity:.7">({esc(run.mode)})</span> '
                  f'{phase_badge(phase)} · {esc(duration_text(took))}'
                  + (f' · <span style="opacity:.7">{esc(run.url)}</span>'
                     if run.mode == "remote" and getattr(run, "url", None) else "")
                  + "</div>")
        by_phase: dict[str, int] = {}
        for a in actions.values():
            by_phase[a.phase.value] = by_phase.get(a.phase.value, 0) + 1
        summary = ", ".join(f"{n} {p.lower()}" for p, n in sorted(by_phase.items()))
        counts = f'<span class="flyte-counts">{done}/{total} finished</span> <span style="opacity:.7">{esc(summary)}</span>'
        bar_style = {"SUCCEEDED": "success", "FAILED": "danger", "TIMED_OUT": "danger",
                     "ABORTED": "warning"}.get(phase, "info")

        with self.widget.hold_sync():
            if self.header.value != header:
                self.header.value = header
            if self.progress.max != max(total, 1):
                self.progress.max = max(total, 1)
            if self.progress.value != done:
                self.progress.value = done
            if self.progress.bar_style != bar_style:
                self.progress.bar_style = bar_style
            if self.counts.value != counts:
                self.counts.value = counts
            if run.done:
                label = "Aborted" if phase == "ABORTED" else "Abort"
                if not self.abort_button.disabled:
                    self.abort_button.disabled = True
                if self.abort_button.description != label:
                    self.abort_button.description = label
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

    def _row_for(self, entry: Entry) -> Any:
        if entry.info is None and entry.members is None:
            more = self._more.get(entry.key)
            if more is None:
                more = self._more[entry.key] = MoreRow(entry.limit_key, self.show_more)
            return more.update(entry)
        row = self._rows.get(entry.key)
        if row is None:
            row = self._rows[entry.key] = Row(entry.key, self.toggle)
        details = (details_html(entry.info, self._details.get(entry.key))
                   if entry.expanded and entry.info is not None else None)
        return row.update(entry, details)

    # -- display -------------------------------------------------------------------------------------

    def _bundle(self) -> dict[str, Any]:
        return {
            "application/vnd.jupyter.widget-view+json": {
                "version_major": 2, "version_minor": 0, "model_id": self.widget.model_id,
            },
            "text/plain": self.run.tree_text(),
        }

    def close(self) -> None:
        self.finish()
        rows: list[Any] = [*self._rows.values(), *self._more.values()]
        for row in rows:
            row.close()
        self.widget.close()


async def _pause(event: asyncio.Event, seconds: float) -> None:
    """Sleep up to `seconds`, or less if `event` is set."""
    try:
        await asyncio.wait_for(event.wait(), timeout=seconds)
    except asyncio.TimeoutError:
        pass

"""`Run`: the surface local and remote runs share; `state` is the live action tree views follow."""

from __future__ import annotations

import time
from typing import Any, Callable

from flyte_jupyter._internal.controllers.run_state import RunState
from flyte_jupyter._internal.runtime.naming import ROOT_ACTION
from flyte_jupyter._internal.wire.models import ActionInfo, Phase


class Run:
    """One run: the root action `a0` and its descendants, live.

    Local and remote runs share this surface; `state` is the live action tree that views subscribe to.
    """

    mode: str = "local"

    def __init__(self, name: str, task: Any, state: RunState) -> None:
        self.name = name
        self.task = task
        self.state = state

    # -- what a user reads ---------------------------------------------------------------------

    @property
    def url(self) -> str | None:
        return None

    @property
    def root(self) -> ActionInfo | None:
        return self.state.get(ROOT_ACTION)

    @property
    def phase(self) -> Phase:
        root = self.root
        return root.phase if root else Phase.QUEUED

    @property
    def done(self) -> bool:
        return self.phase.terminal

    @property
    def actions(self) -> dict[str, ActionInfo]:
        return self.state.actions

    @property
    def error(self) -> Any:
        root = self.root
        return root.error if root else None

    def wait(self, timeout: float | None = None, quiet: bool = True) -> "Run":
        """Block until the run ends (or `timeout` seconds pass); returns the run. With
        `quiet=False` a status line is printed to stderr as actions finish."""
        if not quiet:
            from flyte_jupyter._internal.display.tree_text import print_progress

            stop = print_progress(self)
            try:
                return self.wait(timeout)
            finally:
                stop()
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"run {self.name} still {self.phase.value} after {timeout} s")
            self.state.wait_for_root_change(0.5 if left is None else min(left, 0.5))
        return self

    def outputs(self) -> Any:
        raise NotImplementedError

    def abort(self, reason: str = "aborted by user") -> None:
        raise NotImplementedError

    def watch(self, callback: Callable[..., None]) -> Callable[[], None]:
        """Call `callback(event, info)` on every phase change of every action; returns unsubscribe."""
        return self.state.subscribe(callback)

    def show_logs(self, action: str = ROOT_ACTION) -> str:
        raise NotImplementedError

    def timeline(self, **options: Any) -> Any:
        """The run's timeline (every action's queued, starting and running time, per attempt, with
        CPU and memory where measured): SVG in a notebook, the critical path as text elsewhere.
        `options` go to `_internal/display/timeline.layout` (max_rows, expand, window)."""
        from flyte_jupyter._internal.display.timeline import layout
        from flyte_jupyter._internal.display.timeline_svg import RunTimeline

        return RunTimeline(layout(self.name, self.actions, **options))

    def tree_text(self) -> str:
        """The action tree as indented text: what a terminal shows."""
        from flyte_jupyter._internal.display.tree_text import render_tree

        return render_tree(self)

    def _ipython_display_(self) -> None:
        """In IPython: the live widget the notebook layer registers (see `_display`), else text."""
        from flyte_jupyter._internal.display.renderer import display_run

        display_run(self)

    def __repr__(self) -> str:
        return f"<Run {self.name} {self.mode} {self.phase.value}>"

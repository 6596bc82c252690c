"""The run as text, live, where there is no widget frontend (IPython in a terminal).

A status line is printed when it changes, at most once per `interval` seconds, and the whole tree
once the run ends; events only mark the view dirty, as for the widget.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, TextIO

from flyte_jupyter.kernel import _loop
from flyte_jupyter.kernel._format import duration_text, elapsed


class TextView:
    def __init__(self, run: Any, *, interval: float = 1.0, stream: TextIO | None = None) -> None:
        self.run = run
        self.interval = interval
        self.stream = stream or sys.stdout
        self.opened = time.time()
        self._last = ""
        self._stop = False
        self._task: Any = None
        self._unsubscribe: Any = None

    def status_line(self) -> str:
        done, total = self.run.state.counts()
        root = self.run.root
        started = root.started_at if root else None
        ended = root.ended_at if root and root.phase.terminal else None
        took = duration_text(elapsed(started, ended, self.opened))
        return f"[{self.run.name}] {self.run.phase.value}: {done}/{total} actions finished ({took})"

    def show(self, tree_at_end: bool = False) -> "TextView":
        """Print now, then follow the run until it ends. The tree is printed by `finish()`, or,
        with `tree_at_end`, by the follower itself when the run ends (nobody waits for it)."""
        if self.run.done:
            if tree_at_end:
                print(self.run.tree_text(), file=self.stream, flush=True)
            else:
                self._print_status(force=True)
            return self
        self._print_status(force=True)
        self._task = _loop.submit(self._follow(tree_at_end))
        return self

    def _print_status(self, force: bool = False) -> None:
        done, total = self.run.state.counts()
        key = f"{self.run.phase.value}:{done}/{total}"
        if force or key != self._last:
            self._last = key
            print(self.status_line(), file=self.stream, flush=True)

    async def _follow(self, tree_at_end: bool = False) -> None:
        while not self._stop and not self.run.done:
            await asyncio.sleep(self.interval)
            self._print_status()
        if tree_at_end and not self._stop:
            print(self.run.tree_text(), file=self.stream, flush=True)

    def finish(self, timeout: float = 10.0) -> None:
        self._stop = True
        if self._task is not None:
            try:
                self._task.result(timeout)
            except Exception:
                pass
            self._task = None
        print(self.run.tree_text(), file=self.stream, flush=True)

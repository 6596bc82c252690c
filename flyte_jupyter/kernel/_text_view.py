"""The run as text, live, where there is no widget frontend (IPython in a terminal), and the
widget's plain-text fallback (what nbconvert shows).

A status line is printed when it changes, at most once per `interval` seconds, and the whole tree
once the run ends; events only mark the view dirty, as for the widget. The tree names each action
by its label (`trial(lr=0.05, i=4)`) and shows a failure once, at its root.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any, TextIO

from flyte_jupyter.kernel import _loop
from flyte_jupyter.kernel._errors import error_summary
from flyte_jupyter.kernel._format import duration_text, elapsed
from flyte_jupyter.kernel._labels import Labels


def tree_text(run: Any, labels: Labels | None = None, max_children: int = 50) -> str:
    """The action tree as indented text, one line per action."""
    labels = labels or Labels(run)
    actions = run.state.actions
    children: dict[str | None, list[Any]] = {}
    for info in actions.values():
        children.setdefault(info.parent if info.parent in actions else None, []).append(info)
    done = sum(1 for a in actions.values() if a.phase.terminal)
    lines = [f"Run {run.name} ({run.mode}): {run.phase.value}, {done}/{len(actions)} actions finished"]

    def line(info: Any) -> str:
        took = info.duration if info.phase.terminal else None
        duration = f" {took:.2f}s" if took is not None else ""
        attempt = f" attempt {info.attempts}" if info.attempts > 1 else ""
        cached = " (cached)" if info.cache_hit else ""
        if info.recovered_from:
            cached += f" (recovered from {info.recovered_from.partition('/')[0]})"
        error = ""
        if info.error is not None and info.phase.terminal and not info.phase.succeeded:
            summary, path = error_summary(info.error)
            error = f"  {summary}" + (f" (in {' › '.join(t.rsplit('.', 1)[-1] for _, t in path)})" if path else "")
        label = labels.label(info)
        named = f"  {label}" if label.endswith(")") and not label.endswith("()") else ""
        return f"{info.task} [{info.name}] {info.phase.value}{attempt}{duration}{cached}{named}{error}"

    def walk(parent: str | None, indent: str, depth: int) -> None:
        kids = children.get(parent, [])
        for info in kids[:max_children]:
            lines.append(f"{indent}- {line(info)}")
            if depth < 50:
                walk(info.name, indent + "  ", depth + 1)
        if len(kids) > max_children:
            lines.append(f"{indent}  ... {len(kids) - max_children} more")

    walk(None, "", 0)
    return "\n".join(lines)


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
                print(tree_text(self.run), file=self.stream, flush=True)
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
            print(tree_text(self.run), file=self.stream, flush=True)

    def finish(self, timeout: float = 10.0) -> None:
        self._stop = True
        if self._task is not None:
            try:
                self._task.result(timeout)
            except Exception:
                pass
            self._task = None
        print(tree_text(self.run), file=self.stream, flush=True)

"""The action tree as text, for terminals and for frontends without widgets."""

from __future__ import annotations

from typing import Any

from flyte_jupyter._internal.wire.models import ActionInfo


def _line(info: ActionInfo) -> str:
    duration = f" {info.duration:.2f}s" if info.duration is not None else ""
    attempt = f" attempt {info.attempts}" if info.attempts > 1 else ""
    cached = " (cached)" if info.cache_hit else ""
    error = f"  {info.error}" if info.error else ""
    return f"{info.task} [{info.name}] {info.phase.value}{attempt}{duration}{cached}{error}"


def render_tree(run: Any, max_children: int = 50) -> str:
    actions = run.state.actions
    children: dict[str | None, list[ActionInfo]] = {}
    for info in actions.values():
        children.setdefault(info.parent, []).append(info)
    done = sum(1 for a in actions.values() if a.phase.terminal)
    lines = [f"Run {run.name} ({run.mode}): {run.phase.value}, {done}/{len(actions)} actions finished"]

    def walk(parent: str | None, indent: str) -> None:
        kids = children.get(parent, [])
        for info in kids[:max_children]:
            lines.append(f"{indent}- {_line(info)}")
            walk(info.name, indent + "  ")
        if len(kids) > max_children:
            lines.append(f"{indent}  ... {len(kids) - max_children} more")

    walk(None, "")
    return "\n".join(lines)


def print_progress(run: Any, stream: Any = None, interval: float = 1.0) -> Any:
    """Print a status line to `stream` (stderr) whenever the counts change, at most once per
    `interval` seconds; returns the function that stops it. What `wait(quiet=False)` shows."""
    import sys
    import time

    out = stream or sys.stderr
    last: dict[str, Any] = {"line": "", "at": 0.0}

    def on_event(event: Any, info: Any) -> None:
        done, total = run.state.counts()
        line = f"[{run.name}] {run.phase.value}: {done}/{total} actions finished"
        now = time.monotonic()
        if line != last["line"] and (now - last["at"] >= interval or run.done):
            last.update(line=line, at=now)
            print(line, file=out, flush=True)

    return run.state.subscribe(on_event)

"""Small text and HTML formatting shared by the widget, the text view and the magics."""

from __future__ import annotations

import html
import time
from typing import Any

from flyte_jupyter._internal.display.colors import PHASE_COLORS


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def phase_badge(phase: str) -> str:
    """A colored phase label; `data-phase` lets a browser test find it."""
    color = PHASE_COLORS.get(phase, "#757575")
    return (f'<span class="flyte-phase" data-phase="{esc(phase)}" '
            f'style="color:{color};font-weight:600">{esc(phase)}</span>')


def recovered_html(origin: str) -> str:
    """`recovered from RUN`: a RECOVERED action's outputs came from action ACTION of run RUN
    (`origin` is "RUN/ACTION"); `%flyte status RUN` or `flyte.remote.Run.get(RUN)` shows that run."""
    run, _, action = origin.partition("/")
    # data-flyte-run/-action: in JupyterLab a click opens that run at that action in the side panel
    return (f' <span class="flyte-recovered" data-recovered-from="{esc(origin)}" data-flyte-run="{esc(run)}" '
            f'data-flyte-action="{esc(action)}" style="opacity:.7;cursor:pointer" '
            f'title="outputs reused from action {esc(action)} of run {esc(run)}: click to open it">recovered from '
            f'<code style="text-decoration:underline">{esc(run)}</code></span>')


def duration_text(seconds: float | None, live: bool = False) -> str:
    """`0.3s`, `12.5s`, `3m05s`, `1h02m`; `live` (a clock still running): whole seconds, `7s`."""
    if seconds is None:
        return ""
    if seconds < 60:
        if live:
            return f"{int(seconds)}s"
        return f"{seconds:.1f}s" if seconds >= 0.05 else "<0.1s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def short_repr(value: Any, limit: int = 300) -> str:
    try:
        text = repr(value)
    except Exception as exc:  # a user's broken __repr__
        text = f"<unprintable {type(value).__name__}: {exc}>"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def elapsed(started: float | None, ended: float | None, opened: float) -> float:
    """Seconds since the run started (or since the view opened, before the first event)."""
    start = started if started is not None else opened
    return max(0.0, (ended or time.time()) - start)

"""Phase colours readable on light and dark JupyterLab themes (the widget, the text-free views and
the timeline share them)."""

from __future__ import annotations

PHASE_COLORS: dict[str, str] = {
    "QUEUED": "#757575",
    "INITIALIZING": "#f9a825",
    "RUNNING": "#1e88e5",
    "SUCCEEDED": "#2e7d32",
    "FAILED": "#c62828",
    "ABORTED": "#ef6c00",
    "TIMED_OUT": "#8e24aa",
    "RECOVERED": "#00897b",  # success-equivalent, told apart from SUCCEEDED: it did not run
}

__all__ = ["PHASE_COLORS"]

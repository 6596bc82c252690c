"""A `Timeline` drawn as one SVG (drawn here, in Python: the notebook needs no new front-end code).

Rows: a label column, then one bar per action (or folded group), its segments coloured by the
phase their attempt ended in: queued pale, starting half-tone, running solid; a RECOVERED action is
a diamond. Every segment carries an SVG `<title>`, the browser's hover text: the action, its
attempt, what the segment was and its times (and the attempt's CPU and memory when measured).
Colours are the phase colours (readable on light and dark themes); text and grid use
`currentColor`, so they follow the theme's text colour.
"""

from __future__ import annotations

import html
from typing import Any

from flyte_jupyter._internal.display.colors import PHASE_COLORS
from flyte_jupyter._internal.display.timeline import (
    QUEUED,
    RECOVERED,
    STARTING,
    Bar,
    Timeline,
    memory_text,
    seconds_text,
)

ROW = 16
LABEL_W = 230  # CSS px: the label column, never scaled
RIGHT_PAD = 10
PLOT_MIN_W = 240  # CSS px: narrower than this, the output area scrolls sideways
AXIS_H = 22
_OPACITY = {QUEUED: 0.28, STARTING: 0.55}


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _ticks(span: float, n: int = 6) -> list[float]:
    if span <= 0:
        return [0.0]
    raw = span / n
    step = next((s for s in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900,
                             1800, 3600, 7200, 14400, 43200, 86400) if s >= raw), raw)
    out, t = [], 0.0
    while t <= span + 1e-9:
        out.append(round(t, 6))
        t += step
    return out


def _usage_text(bar: Bar, attempt: int) -> str:
    used = bar.usage.get(str(attempt))
    if not used:
        return ""
    return f"\nCPU {seconds_text(used['cpu_seconds'])}, peak memory {memory_text(used['peak_memory_bytes'])}"


def _title(bar: Bar, seg: Any) -> str:
    who = f"{bar.label} [{bar.key}]" if bar.count == 1 else f"{bar.label} ({bar.count} actions)"
    if seg.kind == RECOVERED:
        origin = f" from {bar.recovered_from}" if bar.recovered_from else ""
        return f"{who}\nRECOVERED{origin} at {seconds_text(seg.start)}: reused outputs, did not run"
    what = f"attempt {seg.attempt}: {seg.kind} ({seg.phase})" if seg.attempt else f"{seg.kind} ({seg.phase})"
    return (f"{who}\n{what}\n{seconds_text(seg.start)} → {seconds_text(seg.end)} "
            f"({seconds_text(seg.end - seg.start)}){_usage_text(bar, seg.attempt)}")


def _pct(t: float, span: float) -> str:
    """A time as a share of the plot's width: the bars scale with the output area, the text does not."""
    return f"{100 * t / span:.3f}%"


def timeline_svg(tl: Timeline) -> str:
    """The SVG of `tl`, one row per bar, as wide as the output area (never narrower than
    `PLOT_MIN_W` for the bars: below that its container scrolls sideways).

    The SVG element is the bar area: it is `LABEL_W` CSS px narrower than its container and sits
    that far to the right, and the labels are drawn to its left (overflow visible), so they keep
    their size; bars, grid and tick positions are percentages of its width, so only they stretch.
    """
    span = tl.span if tl.span > 0 else 1.0
    height = AXIS_H + ROW * max(len(tl.bars), 1) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="flyte-timeline-svg" height="{height}" '
             f'font-family="var(--jp-code-font-family,monospace)" font-size="11" '
             f'style="display:block;overflow:visible;margin-left:{LABEL_W}px;width:calc(100% - {LABEL_W + RIGHT_PAD}px);'
             f'min-width:{PLOT_MIN_W}px;color:var(--jp-ui-font-color1,currentColor)">']
    ticks = _ticks(span)
    for t in ticks:
        x = _pct(t, span)
        anchor = "end" if t == ticks[-1] and t > 0 and t >= span * 0.95 else "middle"
        parts.append(f'<line x1="{x}" y1="{AXIS_H - 4}" x2="{x}" y2="{height}" stroke="currentColor" '
                     f'stroke-opacity="0.12"/><text x="{x}" y="12" fill="currentColor" fill-opacity="0.7" '
                     f'text-anchor="{anchor}">{_esc(seconds_text(t))}</text>')
    for i, bar in enumerate(tl.bars):
        y = AXIS_H + i * ROW
        weight = ' font-weight="700"' if bar.critical else ""
        label = bar.label if len(bar.label) <= 32 else bar.label[:31] + "…"
        indent = 6 + 8 * min(bar.depth, 6) - LABEL_W  # left of the bar area
        parts.append(f'<g class="flyte-timeline-row" data-action="{_esc(bar.key)}" data-phase="{_esc(bar.phase)}">'
                     f'<text x="{indent}" y="{y + 11}" fill="currentColor"{weight}>{_esc(label)}'
                     f'<title>{_esc(bar.task)} [{_esc(bar.key)}] {_esc(bar.phase)}</title></text>')
        for seg in bar.segments:
            color = PHASE_COLORS.get(seg.phase, "#757575")
            x = _pct(seg.start, span)
            if seg.kind == RECOVERED:
                cy = y + ROW / 2  # a nested viewport at the time, so the diamond keeps its shape
                parts.append(f'<svg x="{x}" y="{cy - 5:.1f}" width="1" height="1" overflow="visible">'
                             f'<path class="flyte-seg flyte-seg-recovered" d="M0 0 l5 5 l-5 5 l-5 -5 z" '
                             f'fill="{color}"><title>{_esc(_title(bar, seg))}</title></path></svg>')
                continue
            opacity = _OPACITY.get(seg.kind, 1.0)
            edge = f' stroke="{color}" stroke-opacity="0.8" stroke-width="0.6"' if seg.kind == QUEUED else ""
            width = _pct(max(seg.end - seg.start, span / 800), span)  # an instant one stays a sliver
            parts.append(f'<rect class="flyte-seg flyte-seg-{seg.kind}" x="{x}" y="{y + 3}" width="{width}" '
                         f'height="{ROW - 6}" rx="2" fill="{color}" fill-opacity="{opacity}"{edge} '
                         f'data-attempt="{seg.attempt}">'
                         f'<title>{_esc(_title(bar, seg))}</title></rect>')
        parts.append("</g>")
    parts.append("</svg>")
    return "".join(parts)


def legend_html(tl: Timeline) -> str:
    """One line above the drawing: the totals and what the shades mean."""
    folded = f" · {len(tl.folded)} groups folded (pick one to unfold)" if tl.folded else ""
    return (f'<div class="flyte-timeline-legend" style="font-size:12px;opacity:.85">'
            f'{tl.total_actions} actions over {_esc(seconds_text(tl.span))} · CPU {_esc(seconds_text(tl.cpu_seconds))}'
            f' · peak memory {_esc(memory_text(tl.peak_memory_bytes))}{_esc(folded)} · '
            f'<span style="opacity:.6">pale: queued, half: starting, solid: running, ◆ recovered; '
            f'bold: the critical path</span></div>')


class RunTimeline:
    """`run.timeline()`: shows as the SVG in a notebook and as the critical-path summary in a
    terminal or in nbconvert's text output; `.layout` holds the numbers."""

    def __init__(self, layout: Timeline) -> None:
        self.layout = layout

    def __repr__(self) -> str:
        from flyte_jupyter._internal.display.timeline import timeline_text

        return timeline_text(self.layout)

    def _repr_html_(self) -> str:
        return (legend_html(self.layout) + '<div style="max-height:480px;overflow:auto">'
                + timeline_svg(self.layout) + "</div>")


__all__ = ["RunTimeline", "legend_html", "timeline_svg"]

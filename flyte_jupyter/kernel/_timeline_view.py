"""The run widget's Timeline tab: the SVG of `_internal/display/timeline_svg` in an HTML widget,
with a zoom (a part of the run's time) and the folded groups to unfold one by one. Drawn only while
the tab is shown, at most once a second while the run is live."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from flyte_jupyter._internal.display.timeline import Timeline, layout
from flyte_jupyter._internal.display.timeline_svg import legend_html, timeline_svg

REDRAW_EVERY_S = 1.0
_ALL = ""


class TimelinePane:
    def __init__(self, run: Any, label: Callable[[Any], str] | None = None) -> None:
        self.run = run
        self.label = label  # an action's row label, as the tree shows it; else its task's name
        self.legend = widgets.HTML("")
        self.zoom = widgets.FloatRangeSlider(value=(0.0, 1.0), min=0.0, max=1.0, step=0.005, description="zoom",
                                             readout=False, continuous_update=False,
                                             layout=widgets.Layout(width="320px"))
        self.unfold = widgets.Dropdown(options=[("no group to unfold", _ALL)], value=_ALL, description="unfold",
                                       layout=widgets.Layout(width="320px"))
        self.svg = widgets.HTML("", layout=widgets.Layout(width="100%", max_height="420px", overflow="auto"))
        self.svg.add_class("flyte-timeline")
        self.widget = widgets.VBox([widgets.HBox([self.zoom, self.unfold]), self.legend, self.svg],
                                   layout=widgets.Layout(display="none"))
        self.widget.add_class("flyte-timeline-pane")
        self.expanded: set[str] = set()
        self.last: Timeline | None = None  # the Timeline drawn last
        self._drawn_at = 0.0
        self.zoom.observe(lambda _c: self.draw(), "value")
        self.unfold.observe(self._on_unfold, "value")

    @property
    def shown(self) -> bool:
        return self.widget.layout.display != "none"

    def show(self, on: bool) -> None:
        self.widget.layout.display = "" if on else "none"
        if on:
            self.draw()

    def _on_unfold(self, change: Any) -> None:
        if change["new"]:
            self.expanded.add(change["new"])
            self.draw()

    def maybe_draw(self) -> None:
        """From the view's render: redraw a shown tab, at most once a second while the run is live."""
        if self.shown and (self.run.done or time.monotonic() - self._drawn_at >= REDRAW_EVERY_S):
            self.draw()

    def draw(self) -> None:
        actions = self.run.state.actions
        full = layout(self.run.name, actions, expand=self.expanded, label=self.label)
        lo, hi = self.zoom.value
        window = None if (lo, hi) == (0.0, 1.0) or full.span <= 0 else (lo * full.span, hi * full.span)
        tl = full if window is None else layout(self.run.name, actions, expand=self.expanded, window=window,
                                                label=self.label)
        self.last = tl
        self._drawn_at = time.monotonic()
        legend = legend_html(tl)
        svg = timeline_svg(tl)
        if self.legend.value != legend:
            self.legend.value = legend
        if self.svg.value != svg:
            self.svg.value = svg
        options = [("no group to unfold" if not full.folded else "pick a group to unfold", _ALL)] + [
            (name, name) for name in full.folded]
        if list(self.unfold.options) != options:
            self.unfold.options = options
            self.unfold.value = _ALL


__all__ = ["TimelinePane"]

"""The live action tree as ipywidgets 8, built only from the stock widgets (no frontend code).

`ActionTree` is a VBox of rows. Its model also carries the displayed nodes as data (`nodes`: name,
task, parent, depth, phase, attempts, duration, ...), so tests and tools can read the tree from the
widget state a notebook saves, without scraping HTML. Only what is visible is built: the root's
children and those of expanded nodes, at most `max_children` per parent (then an "N more" row that
shows more on click) and at most `max_rows` rows overall, so a run of thousands of actions costs
the frontend a few dozen widgets.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import ipywidgets as widgets
import traitlets
from ipywidgets.widgets.widget_string import HTMLStyle as _HTMLStyle

from flyte_jupyter._internal.wire.models import ActionInfo
from flyte_jupyter.kernel._format import duration_text, esc, phase_badge

ROOT = "a0"


class ActionTree(widgets.VBox):
    """The rows of the tree; `nodes` (actions) and `groups` (flyte.group / flyte.map rows) mirror
    them as data."""

    run_name = traitlets.Unicode("").tag(sync=True)
    nodes = traitlets.List(traitlets.Dict()).tag(sync=True)
    groups = traitlets.List(traitlets.Dict()).tag(sync=True)
    total = traitlets.Int(0).tag(sync=True)
    hidden = traitlets.Int(0).tag(sync=True)  # actions not shown (collapsed, capped)


@dataclasses.dataclass
class Entry:
    """One visible line: an action, a group of sibling actions (`members`), or "N more" (`more`,
    shown more of by widening the window `limit_key`)."""

    key: str
    depth: int
    info: ActionInfo | None = None
    parent: str | None = None
    more: int = 0
    has_children: bool = False
    expanded: bool = False
    group: str | None = None
    members: list[ActionInfo] | None = None
    limit_key: str = ""
    in_group: bool = False  # shown under its group's line (so the row need not name the group)


def group_key(parent: str | None, group: str) -> str:
    return f"group:{parent or ''}:{group}"


def visible_entries(actions: dict[str, ActionInfo], expanded: set[str], limits: dict[str, int],
                    max_children: int, max_rows: int, open_depth: int = 2) -> tuple[list[Entry], int]:
    """The lines to show, depth first, children in the order they were started, and how many
    actions stay hidden. Siblings started in one `flyte.group` (or `flyte.map`) fold into one
    group line, closed until it is opened."""
    children: dict[str | None, list[ActionInfo]] = {}
    for info in actions.values():
        parent = info.parent if info.parent in actions else None
        if info.name == ROOT:
            parent = None
        children.setdefault(parent, []).append(info)
    out: list[Entry] = []

    def items_of(parent: str | None) -> list[ActionInfo | tuple[str, list[ActionInfo]]]:
        parent_group = actions[parent].group if parent in actions else None
        items: list[ActionInfo | tuple[str, list[ActionInfo]]] = []
        groups: dict[str, list[ActionInfo]] = {}
        for info in children.get(parent, []):
            # a group a parent itself belongs to is inherited by what it starts: no fold for that
            if info.group and info.group != parent_group:
                if info.group not in groups:
                    groups[info.group] = []
                    items.append((info.group, groups[info.group]))
                groups[info.group].append(info)
            else:
                items.append(info)
        return items

    def walk_action(info: ActionInfo, depth: int, in_group: bool) -> None:
        has_kids = bool(children.get(info.name))
        is_open = info.name in expanded
        out.append(Entry(info.name, depth, info, info.parent, has_children=has_kids, expanded=is_open,
                         in_group=in_group))
        if has_kids and (is_open or depth < open_depth):  # the top levels are open from the start
            walk(info.name, items_of(info.name), depth + 1, info.name)

    def walk(parent: str | None, items: list[Any], depth: int, limit_key: str, in_group: bool = False) -> None:
        cap = limits.get(limit_key, max_children)
        for item in items[:cap]:
            if len(out) >= max_rows:
                return
            if isinstance(item, tuple):
                name, members = item
                key = group_key(parent, name)
                is_open = key in expanded
                out.append(Entry(key, depth, parent=parent, group=name, members=members, expanded=is_open,
                                 has_children=True))
                if is_open:
                    walk(parent, list(members), depth + 1, key, in_group=True)
            else:
                walk_action(item, depth, in_group)
        if len(items) > cap and len(out) < max_rows:
            out.append(Entry(f"more:{limit_key}", depth, parent=parent, more=len(items) - cap, limit_key=limit_key))

    walk(None, items_of(None), 0, "")
    shown = sum(1 for e in out if e.info is not None)
    return out, len(actions) - shown


def group_data(entry: Entry) -> dict[str, Any]:
    members = entry.members or []
    counts: dict[str, int] = {}
    for info in members:
        counts[info.phase.value] = counts.get(info.phase.value, 0) + 1
    return {"key": entry.key, "group": entry.group, "parent": entry.parent, "depth": entry.depth,
            "total": len(members), "phase": group_phase(members), "counts": counts, "expanded": entry.expanded}


def group_phase(members: list[ActionInfo]) -> str:
    """One phase for a group: a failure shows, else activity, else how it ended."""
    phases = {m.phase.value for m in members}
    for phase in ("FAILED", "TIMED_OUT", "RUNNING", "INITIALIZING", "QUEUED", "ABORTED"):
        if phase in phases:
            return phase
    return "SUCCEEDED" if phases else "QUEUED"


def group_html(entry: Entry) -> str:
    data = group_data(entry)
    counts = ", ".join(f"{n} {p.lower()}" for p, n in sorted(data["counts"].items()))
    pad = 18 * entry.depth
    return (f'<div class="flyte-group" data-group="{esc(entry.group)}" data-phase="{esc(data["phase"])}" '
            f'style="padding-left:{pad}px;white-space:nowrap;font-family:var(--jp-code-font-family,monospace);'
            f'font-size:12px"><b>{esc(entry.group)}</b> <span style="opacity:.6">group of {data["total"]}</span> '
            f'{phase_badge(data["phase"])} <span style="opacity:.8">{esc(counts)}</span></div>')


def _shown_duration(info: ActionInfo) -> float | None:
    """Finished actions to a tenth of a second; live ones in whole seconds, so a row of a running
    action changes (and costs the frontend a message) at most once a second."""
    duration = info.duration
    if duration is None:
        return None
    return round(duration, 1) if info.phase.terminal else float(int(duration))


def node_data(entry: Entry) -> dict[str, Any]:
    info = entry.info
    assert info is not None
    duration = _shown_duration(info)
    return {
        "name": info.name, "task": info.task, "parent": info.parent, "depth": entry.depth,
        "phase": info.phase.value, "attempts": info.attempts,
        "duration": duration,
        "cache_hit": info.cache_hit, "group": info.group, "expanded": entry.expanded,
        "error": str(info.error) if info.error else None,
    }


def row_html(entry: Entry) -> str:
    info = entry.info
    assert info is not None
    pad = 18 * entry.depth
    attempt = f' <span style="opacity:.7">attempt {info.attempts}</span>' if info.attempts > 1 else ""
    cached = ' <span style="opacity:.7">(cached)</span>' if info.cache_hit else ""
    dur = duration_text(_shown_duration(info))
    group = f' <span style="opacity:.6">[{esc(info.group)}]</span>' if info.group and not entry.in_group else ""
    error = (f' <span style="color:#c62828">{esc(str(info.error))[:160]}</span>'
             if info.error and info.phase.terminal else "")
    return (f'<div class="flyte-action" data-action="{esc(info.name)}" data-phase="{esc(info.phase.value)}" '
            f'style="padding-left:{pad}px;white-space:nowrap;font-family:var(--jp-code-font-family,monospace);'
            f'font-size:12px">'
            f'<b>{esc(info.task)}</b> <span style="opacity:.6">{esc(info.name)}</span> '
            f'{phase_badge(info.phase.value)}{attempt} <span style="opacity:.8">{esc(dur)}</span>'
            f'{cached}{group}{error}</div>')


_shared: dict[str, Any] = {}


def _shared_model(key: str, factory: Callable[..., Any], **kwargs: Any) -> Any:
    """Rows share their layout and style models: a row costs the frontend three models, not a dozen."""
    model = _shared.get(key)
    if model is None or getattr(model, "comm", None) is None:
        model = _shared[key] = factory(**kwargs)
    return model


def _shared_layout(key: str, **kwargs: Any) -> widgets.Layout:
    return _shared_model(f"layout:{key}", widgets.Layout, **kwargs)


class Row:
    """One action's line (an expand toggle and the label), and its details line when expanded."""

    def __init__(self, key: str, on_toggle: Callable[[str], None]) -> None:
        self.key = key
        self.toggle = widgets.Button(description="", icon="caret-right", tooltip="details",
                                     layout=_shared_layout("toggle", width="26px", height="22px", padding="0"),
                                     style=_shared_model("style:button", widgets.ButtonStyle))
        self.toggle.on_click(lambda _b: on_toggle(key))
        self.label = widgets.HTML("", layout=_shared_layout("label", margin="0"),
                                  style=_shared_model("style:html", _HTMLStyle))
        # rows keep their height in the scrolling tree (a flex column would squeeze them instead)
        self.box = widgets.HBox([self.toggle, self.label],
                                layout=_shared_layout("line", align_items="center", flex="0 0 auto"))
        self.box.add_class("flyte-action-row")
        self.details: widgets.HTML | None = None
        self._state: tuple[Any, ...] = ()

    def update(self, entry: Entry, details: str | None) -> list[Any]:
        """Bring the row up to date; returns the widgets it occupies in the tree."""
        icon = "caret-down" if entry.expanded else "caret-right"
        html = group_html(entry) if entry.members is not None else row_html(entry)
        state = (icon, html, details)
        if state != self._state:
            self._state = state
            if self.toggle.icon != icon:
                self.toggle.icon = icon
            if self.label.value != html:
                self.label.value = html
            if details is not None:
                if self.details is None:
                    self.details = widgets.HTML("", layout=_shared_layout("details", margin="0 0 4px 30px",
                                                                                  flex="0 0 auto"),
                                                style=_shared_model("style:html", _HTMLStyle))
                if self.details.value != details:
                    self.details.value = details
        if details is not None and self.details is not None:
            return [self.box, self.details]
        return [self.box]

    def close(self) -> None:
        for w in (self.toggle, self.label, self.box, self.details):
            if w is not None:
                w.close()


class MoreRow:
    """ "N more" under a parent; a click shows more of them."""

    def __init__(self, limit_key: str, on_more: Callable[[str], None]) -> None:
        self.button = widgets.Button(description="", layout=widgets.Layout(width="auto", height="22px",
                                                                           flex="0 0 auto"))
        self.button.on_click(lambda _b: on_more(limit_key))
        self.button.add_class("flyte-more-row")

    def update(self, entry: Entry) -> list[Any]:
        text = f"… {entry.more} more"
        if self.button.description != text:
            self.button.description = text
        margin = f"0 0 0 {18 * entry.depth + 26}px"
        if self.button.layout.margin != margin:
            self.button.layout.margin = margin
        return [self.button]

    def close(self) -> None:
        self.button.close()

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
import threading
import time
from typing import Any, Callable, Union

import ipywidgets as widgets
import traitlets
from ipywidgets.widgets.widget_string import HTMLStyle as _HTMLStyle

from flyte_jupyter._internal.display.labels import short_task
from flyte_jupyter._internal.wire.models import ActionInfo, Phase
from flyte_jupyter.kernel._errors import error_summary
from flyte_jupyter.kernel._format import duration_text, esc, phase_badge, recovered_html
from flyte_jupyter.kernel._links import type_tag_html

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


Item = Union[ActionInfo, "tuple[str, list[ActionInfo]]"]  # an action's line, or a group's: (name, members)


def _fold(kids: list[ActionInfo], parent_group: str | None, items: list[Item],
          groups: dict[str, list[ActionInfo]]) -> None:
    """Add children to a parent's items: each in a group of its own folds into that group's item."""
    for info in kids:
        # a group a parent itself belongs to is inherited by what it starts: no fold for that
        if info.group and info.group != parent_group:
            members = groups.get(info.group)
            if members is None:
                members = groups[info.group] = []
                items.append((info.group, members))
            members.append(info)
        else:
            items.append(info)


class FoldCache:
    """Per parent, its children folded into items so far. A view keeps one: the children lists of
    `RunState.snapshot` only grow, so a render folds only the children that came since the last
    one (folding a parent's 10,000 children again took a few ms a render)."""

    def __init__(self) -> None:
        self._by_parent: dict[str | None, tuple[str | None, int, ActionInfo | None, list[Item],
                                                dict[str, list[ActionInfo]]]] = {}

    def items(self, parent: str | None, parent_group: str | None, kids: list[ActionInfo]) -> list[Item]:
        kept = self._by_parent.get(parent)
        seen = 0
        items: list[Item] = []
        groups: dict[str, list[ActionInfo]] = {}
        if kept is not None:
            group, n, last, old_items, old_groups = kept
            if group == parent_group and n <= len(kids) and (n == 0 or kids[n - 1] is last):
                seen, items, groups = n, old_items, old_groups
        _fold(kids[seen:], parent_group, items, groups)
        self._by_parent[parent] = (parent_group, len(kids), kids[-1] if kids else None, items, groups)
        return items


def visible_entries(actions: dict[str, ActionInfo], expanded: set[str], limits: dict[str, int],
                    max_children: int, max_rows: int, open_depth: int = 2,
                    children_index: dict[str | None, list[ActionInfo]] | None = None,
                    cache: FoldCache | None = None) -> tuple[list[Entry], int]:
    """The lines to show, depth first, children in the order they were started, and how many
    actions stay hidden. Siblings started in one `flyte.group` (or `flyte.map`) fold into one
    group line, closed until it is opened. `children_index` (`RunState.snapshot`'s, the same
    actions') saves indexing every action again; it is used when every parent it names is known,
    and then `cache` (the view's) saves folding every child again."""
    children = _children_of(actions, children_index)
    if children is not children_index:
        cache = None  # a pass of its own: its lists are no prefixes of the next render's
    out: list[Entry] = []

    def items_of(parent: str | None) -> list[Item]:
        parent_group = actions[parent].group if parent in actions else None
        kids = children.get(parent, [])
        if cache is not None:
            return cache.items(parent, parent_group, kids)
        items: list[Item] = []
        _fold(kids, parent_group, items, {})
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


def _children_of(actions: dict[str, ActionInfo],
                 index: dict[str | None, list[ActionInfo]] | None) -> dict[str | None, list[ActionInfo]]:
    """Per parent (None: the top), its children in the order they appeared; an action whose
    parent is not known (yet) shows at the top."""
    root = actions.get(ROOT)
    if index is not None and (root is None or root.parent is None) and \
            all(parent is None or parent in actions for parent in index):
        return index
    children: dict[str | None, list[ActionInfo]] = {}
    for info in actions.values():
        parent = info.parent if info.parent in actions else None
        if info.name == ROOT:
            parent = None
        children.setdefault(parent, []).append(info)
    return children


@dataclasses.dataclass
class Progress:
    """How far a set of sibling actions (a group, a map, a gather) has come."""

    done: int = 0
    total: int = 0
    failed: int = 0
    first_start: float | None = None
    last_end: float | None = None

    def add(self, info: ActionInfo) -> None:
        self.total += 1
        self.count(info)

    def count(self, info: ActionInfo) -> None:
        """Count where one of the actions (already in `total`) now is: ended, failed, its times."""
        phase = info.phase
        if phase in _ENDED:
            self.done += 1
            if not phase.succeeded:
                self.failed += 1
            if info.ended_at is not None and (self.last_end is None or info.ended_at > self.last_end):
                self.last_end = info.ended_at
        if info.started_at is not None and (self.first_start is None or info.started_at < self.first_start):
            self.first_start = info.started_at

    def rate(self, now: float | None = None) -> float | None:
        """Finished actions per second since the first started (to the last end, once all ended)."""
        if not self.done or self.first_start is None:
            return None
        # while it goes on, counted to the whole second: the rate and the time left change once a second
        end = self.last_end if self.done == self.total and self.last_end else float(int(now or time.time()))
        span = end - self.first_start
        return self.done / span if span > 0 else None

    def eta(self, now: float | None = None) -> float | None:
        rate = self.rate(now)
        if rate is None or self.done >= self.total:
            return None
        return (self.total - self.done) / rate

    def data(self, now: float | None = None) -> dict[str, Any]:
        rate, eta = self.rate(now), self.eta(now)
        return {"done": self.done, "total": self.total, "failed": self.failed,
                "rate": round(rate, 1) if rate is not None else None,
                "eta": round(eta) if eta is not None else None}


def progress_of(members: list[ActionInfo]) -> Progress:
    prog = Progress()
    for info in members:
        prog.add(info)
    return prog


_ENDED = frozenset(p for p in Phase if p.terminal)


@dataclasses.dataclass
class Summary:
    """What one pass over a run's actions tells a render."""

    done: int
    by_phase: dict[str, int]
    progress: dict[str, Progress]  # parent -> its ungrouped children, for parents with 2 or more
    failed: dict[str, list[ActionInfo]]  # parent -> its children that failed


def summarize(actions: dict[str, ActionInfo], minimum: int = 2) -> Summary:
    done = 0
    by_phase: dict[Phase, int] = {}
    progress: dict[str, Progress] = {}
    failed: dict[str, list[ActionInfo]] = {}
    for info in actions.values():
        phase = info.phase
        by_phase[phase] = by_phase.get(phase, 0) + 1
        if phase in _ENDED:
            done += 1
        parent_name = info.parent
        if parent_name is None or info.name == ROOT:
            continue
        if (phase is Phase.FAILED or phase is Phase.TIMED_OUT) and info.error is not None:
            failed.setdefault(parent_name, []).append(info)
        if info.group:
            parent = actions.get(parent_name)
            if parent is None or info.group != parent.group:
                continue  # shown by its group's line
        prog = progress.get(parent_name)
        if prog is None:
            prog = progress[parent_name] = Progress()
        prog.add(info)
    return Summary(done, {p.value: n for p, n in by_phase.items()},
                   {k: v for k, v in progress.items() if v.total >= minimum}, failed)


class LiveSummary:
    """`summarize` kept up to date change by change, so that a render of a big run does not read
    every action again, and cheap for the thread that applies the changes: the view's listener
    only notes which action changed (`note`: one dict store, no lock, the latest info per action),
    and whoever asks (`summary`, `count`, `size`, on the views loop) first counts what was noted
    since. Counting compares an action with how it was last counted, so an action noted three
    times between two renders is counted once. `summary()` costs what the parents, the failed
    actions and the noted changes cost, not what the actions do. `sync` rebuilds it from all
    actions (when the view may have missed changes). Thread-safe."""

    def __init__(self, lookup: Callable[[str], ActionInfo | None]) -> None:
        self._lookup = lookup  # an action by name (a group's parent), as the run's state has it now
        self._lock = threading.Lock()
        self._noted: dict[str, ActionInfo] = {}
        self._seen: dict[str, tuple[Phase, str | None, bool]] = {}  # name -> (phase, progress key, failed)
        self._done = 0
        self._by_phase: dict[Phase, int] = {}
        self._progress: dict[str, Progress] = {}
        self._failed: dict[str, dict[str, ActionInfo]] = {}

    def note(self, info: ActionInfo) -> None:
        """An action changed (called for every change, on the thread that applies it)."""
        self._noted[info.name] = info

    def sync(self, actions: dict[str, ActionInfo]) -> None:
        with self._lock:
            self._noted.clear()
            self._seen.clear()
            self._done = 0
            self._by_phase.clear()
            self._progress.clear()
            self._failed.clear()
            for info in actions.values():
                self._update(info, actions.get)

    def _catch_up(self) -> None:
        """Count the noted changes (the lock held). `popitem` takes each out whole while the
        applying thread may note more: those are counted now or at the next catch-up."""
        noted = self._noted
        while noted:
            _name, info = noted.popitem()
            self._update(info, self._lookup)

    def size(self) -> int:
        with self._lock:
            self._catch_up()
            return len(self._seen)

    def count(self, phase: Phase) -> int:
        """How many actions are in `phase` now (without reading them)."""
        with self._lock:
            self._catch_up()
            return self._by_phase.get(phase, 0)

    def _update(self, info: ActionInfo, lookup: Callable[[str], ActionInfo | None]) -> None:
        phase = info.phase
        before = self._seen.get(info.name)
        parent_name = info.parent if info.name != ROOT else None
        if before is None:
            key = parent_name
            if key is not None and info.group:
                parent = lookup(key)
                if parent is None or info.group != parent.group:
                    key = None  # shown by its group's line
            if key is not None:
                prog = self._progress.get(key)
                if prog is None:
                    prog = self._progress[key] = Progress()
                prog.total += 1
        else:
            old, key, was_failed = before
            self._by_phase[old] -= 1
            if old in _ENDED:
                self._done -= 1
                if key is not None:
                    self._progress[key].done -= 1
                    if not old.succeeded:
                        self._progress[key].failed -= 1
            if was_failed and parent_name is not None:
                self._failed.get(parent_name, {}).pop(info.name, None)
        self._by_phase[phase] = self._by_phase.get(phase, 0) + 1
        failed = parent_name is not None and (phase is Phase.FAILED or phase is Phase.TIMED_OUT) \
            and info.error is not None
        if failed and parent_name is not None:
            self._failed.setdefault(parent_name, {})[info.name] = info
        if phase in _ENDED:
            self._done += 1
        if key is not None:
            self._progress[key].count(info)
        self._seen[info.name] = (phase, key, failed)

    def summary(self, minimum: int = 2) -> Summary:
        with self._lock:
            self._catch_up()
            return Summary(self._done, {p.value: n for p, n in self._by_phase.items() if n},
                           {k: dataclasses.replace(v) for k, v in self._progress.items() if v.total >= minimum},
                           {k: list(v.values()) for k, v in self._failed.items() if v})


def children_progress(actions: dict[str, ActionInfo], minimum: int = 2) -> dict[str, Progress]:
    """Per parent, the progress of its children that are not in a group (what `asyncio.gather`
    over task calls starts), for parents with at least `minimum` of them."""
    return summarize(actions, minimum).progress


def progress_html(prog: Progress, now: float | None = None, width: int = 90) -> str:
    """A small bar with done/total, throughput and the time left."""
    frac = prog.done / prog.total if prog.total else 0.0
    color = "#c62828" if prog.failed else ("#2e7d32" if prog.done == prog.total else "#1e88e5")
    rate, eta = prog.rate(now), prog.eta(now)
    facts = [f"{prog.done}/{prog.total}"]
    if rate is not None:
        facts.append(f"{rate:.1f}/s" if rate < 100 else f"{rate:.0f}/s")
    if eta is not None:
        facts.append(f"ETA {duration_text(eta, live=True)}")
    if prog.failed:
        facts.append(f"{prog.failed} failed")
    return (f'<span class="flyte-progress" data-done="{prog.done}" data-total="{prog.total}" '
            f'style="display:inline-block;vertical-align:middle;width:{width}px;height:7px;margin:0 4px;'
            f'border-radius:3px;background:var(--jp-layout-color3,#ddd);overflow:hidden">'
            f'<span style="display:block;height:100%;width:{frac * 100:.0f}%;background:{color}"></span></span>'
            f'<span style="opacity:.8">{esc(" · ".join(facts))}</span>')


def group_data(entry: Entry, now: float | None = None) -> dict[str, Any]:
    members = entry.members or []
    counts: dict[str, int] = {}
    for info in members:
        counts[info.phase.value] = counts.get(info.phase.value, 0) + 1
    return {"key": entry.key, "group": entry.group, "parent": entry.parent, "depth": entry.depth,
            "total": len(members), "phase": group_phase(members), "counts": counts, "expanded": entry.expanded,
            "progress": progress_of(members).data(now)}


def group_phase(members: list[ActionInfo]) -> str:
    """One phase for a group: a failure shows, else activity, else how it ended."""
    phases = {m.phase.value for m in members}
    for phase in ("FAILED", "TIMED_OUT", "RUNNING", "INITIALIZING", "QUEUED", "ABORTED"):
        if phase in phases:
            return phase
    if phases == {"RECOVERED"}:
        return "RECOVERED"
    return "SUCCEEDED" if phases else "QUEUED"


def _open_attrs(run: str, action: str | None = None) -> str:
    """The attributes the JupyterLab panel listens for: clicking the element opens that run (and
    action) in the panel. Empty without a run name (a view that does not know its run)."""
    if not run:
        return ""
    return f' data-flyte-run="{esc(run)}"' + (f' data-flyte-action="{esc(action)}"' if action else "")


def group_html(entry: Entry, now: float | None = None, run: str = "") -> str:
    data = group_data(entry, now)
    counts = ", ".join(f"{n} {p.lower()}" for p, n in sorted(data["counts"].items()))
    pad = 18 * entry.depth
    bar = progress_html(progress_of(entry.members or []), now)
    return (f'<div class="flyte-group" data-group="{esc(entry.group)}" data-phase="{esc(data["phase"])}"'
            f'{_open_attrs(run)} '
            f'style="padding-left:{pad}px;white-space:nowrap;font-family:var(--jp-code-font-family,monospace);'
            f'font-size:12px"><b>{esc(entry.group)}</b> <span style="opacity:.6">group of {data["total"]}</span> '
            f'{phase_badge(data["phase"])} {bar} <span style="opacity:.6">{esc(counts)}</span></div>')


def shown_duration(info: ActionInfo, now: float | None = None) -> float | None:
    """Finished actions to a tenth of a second; live ones in whole seconds (so a row of a running
    action changes, and costs the frontend a message, at most once a second). A live action that
    was retried counts from its first start, not to the end of its failed attempt."""
    if info.started_at is None:
        return None
    if info.phase.terminal:
        end = info.ended_at if info.ended_at is not None else (now or time.time())
        return round(max(0.0, end - info.started_at), 1)
    return float(int(max(0.0, (now or time.time()) - info.started_at)))


def node_data(entry: Entry, label: str | None = None, children: Progress | None = None,
              now: float | None = None) -> dict[str, Any]:
    info = entry.info
    assert info is not None
    summary = error_summary(info.error)[0] if info.error and not info.phase.succeeded else None
    out: dict[str, Any] = {
        "name": info.name, "task": info.task, "label": label or short_task(info.task), "parent": info.parent,
        "depth": entry.depth, "phase": info.phase.value, "attempts": info.attempts,
        "duration": shown_duration(info, now),
        "cache_hit": info.cache_hit, "group": info.group, "expanded": entry.expanded, "task_type": info.task_type,
        "error": summary, "recovered_from": info.recovered_from,
    }
    if children is not None:
        out["children"] = children.data(now)
    return out


_FAILED = ("FAILED", "TIMED_OUT")


def failed_children(actions: dict[str, ActionInfo]) -> dict[str, list[ActionInfo]]:
    """Per parent, its children that failed (one pass; what `failure_path` walks)."""
    out: dict[str, list[ActionInfo]] = {}
    for info in actions.values():
        if info.parent and info.error is not None and info.phase.value in _FAILED:
            out.setdefault(info.parent, []).append(info)
    return out


def failure_path(info: ActionInfo, failed: dict[str, list[ActionInfo]]) -> list[ActionInfo]:
    """The failed descendants a failure came up through, from below `info` down to where it began:
    at each level the child that failed with the same root cause (else the last to end)."""
    path: list[ActionInfo] = []
    if info.error is None or info.phase.value not in _FAILED:
        return path
    want = error_summary(info.error)[0]
    current, seen = info, {info.name}
    while len(path) < 50:
        kids = [k for k in failed.get(current.name, []) if k.name not in seen]
        if not kids:
            break
        same = [k for k in kids if k.error is not None and error_summary(k.error)[0] == want]
        current = max(same or kids, key=lambda k: k.ended_at or 0.0)
        seen.add(current.name)
        path.append(current)
    return path


def row_error_html(info: ActionInfo, via_labels: list[str] | None = None) -> str:
    """The root cause of a failure, once, and the actions it came up through."""
    if info.error is None or not info.phase.terminal or info.phase.succeeded:
        return ""
    summary, path = error_summary(info.error)
    via = " › ".join(via_labels) if via_labels else " › ".join(short_task(task) for _, task in path)
    short = summary if len(summary) <= 160 else summary[:159] + "…"
    return (f' <span class="flyte-error" style="color:#c62828" title="{esc(summary)}">{esc(short)}</span>'
            + (f' <span style="opacity:.7">in {esc(via)}</span>' if via else ""))


def row_html(entry: Entry, label: str | None = None, children: Progress | None = None,
             now: float | None = None, via: list[str] | None = None, run: str = "") -> str:
    info = entry.info
    assert info is not None
    pad = 18 * entry.depth
    attempt = ""
    if info.attempts > 1:
        failed = info.attempts - 1 if info.phase.value in ("SUCCEEDED", "RUNNING", "INITIALIZING", "QUEUED") \
            else info.attempts
        attempt = (f' <span style="opacity:.7">attempt {info.attempts}'
                   f'{f" · {failed} failed" if failed else ""}</span>')
    cached = ' <span style="opacity:.7">(cached)</span>' if info.cache_hit else ""
    if info.recovered_from:
        cached += recovered_html(info.recovered_from)
    dur = duration_text(shown_duration(info, now), live=not info.phase.terminal)
    group = f' <span style="opacity:.6">[{esc(info.group)}]</span>' if info.group and not entry.in_group else ""
    bar = f" {progress_html(children, now)}" if children is not None else ""
    title = label or short_task(info.task)
    return (f'<div class="flyte-action" data-action="{esc(info.name)}" data-phase="{esc(info.phase.value)}"'
            f'{_open_attrs(run, info.name)} '
            f'style="padding-left:{pad}px;white-space:nowrap;font-family:var(--jp-code-font-family,monospace);'
            f'font-size:12px">'
            f'<span class="flyte-label" style="font-weight:700">{esc(title)}</span> '
            f'<b class="flyte-task" style="font-weight:400;opacity:.6">{esc(info.task)}</b>{type_tag_html(info)} '
            f'<span style="opacity:.6">{esc(info.name)}</span> '
            f'{phase_badge(info.phase.value)}{attempt} <span style="opacity:.8">{esc(dur)}</span>'
            f'{cached}{group}{bar}{row_error_html(info, via)}</div>')


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

    def update(self, entry: Entry, details: str | None, html: str | None = None,
               extra: list[Any] | None = None) -> list[Any]:
        """Bring the row up to date; returns the widgets it occupies in the tree (its line, and
        when expanded its details and the widgets they carry, e.g. a "full log" button)."""
        icon = "caret-down" if entry.expanded else "caret-right"
        if html is None:
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
            return [self.box, self.details, *(extra or [])]
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

"""A run's timeline as numbers: one bar per action from queued to end, cut into queued, starting
and running segments (one set per attempt, so retries show apart), grouped by map/group, the run's
cost totals and its critical path. The notebook widget draws it as SVG, the terminal and nbconvert
show `timeline_text`, the side panel reads the same layout as JSON (`Timeline.to_json`), so every
view shows the same numbers.

Where the numbers come from: the backend records every ended attempt (`ActionInfo.usage`: when it
became due, was launched, started running and ended, and its CPU seconds and peak memory); an
attempt still going, and a local run's actions, are drawn from the action's own queued, started and
ended times. A RECOVERED action did not run: it is a zero-length mark where it was recovered.

Many actions: past `max_rows`, the members of each group (a `flyte.map` or `flyte.group`, else the
children of one parent running one task) with more than `bucket` members fold into one row that
spans them, with counts by phase; `expand` names the groups to unfold, and `window` (a time range
in seconds from the start) zooms in: only what overlaps it is laid out, clipped to it.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, Callable, Iterable

from flyte_jupyter._internal.wire.models import ActionInfo, Phase

QUEUED, STARTING, RUNNING, RECOVERED = "queued", "starting", "running", "recovered"


@dataclasses.dataclass(frozen=True)
class Segment:
    kind: str  # queued | starting | running | recovered
    attempt: int
    phase: str  # how the attempt ended (its phase while it is going)
    start: float  # seconds from the timeline's start
    end: float

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class Bar:
    """One row: an action, or a folded group of them (`count` > 1)."""

    key: str  # the action's name, or "group:<name>" for a folded group
    label: str
    task: str
    group: str | None
    depth: int
    phase: str
    start: float
    end: float
    segments: list[Segment]
    attempts: int = 1
    count: int = 1
    phases: dict[str, int] = dataclasses.field(default_factory=dict)  # folded rows: members by phase
    cpu_seconds: float | None = None
    peak_memory_bytes: int | None = None
    recovered_from: str | None = None
    critical: bool = False
    # per measured attempt: {"cpu_seconds": s, "peak_memory_bytes": n} (JSON keys are strings)
    usage: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["segments"] = [s.to_json() for s in self.segments]
        return out


@dataclasses.dataclass
class Timeline:
    run: str
    origin: float  # epoch seconds of the start (bars are in seconds from it)
    span: float  # seconds the layout covers
    bars: list[Bar]
    total_actions: int
    folded: list[str]  # groups shown as one row
    cpu_seconds: float | None  # the run's totals over every measured attempt
    peak_memory_bytes: int | None  # the largest peak of any attempt
    critical_path: list[str]  # action names from the root to the action that ended last
    window: tuple[float, float] | None = None
    full_span: float = 0.0  # seconds the whole run covers (the span when not zoomed)

    def to_json(self) -> dict[str, Any]:
        return {"run": self.run, "origin": self.origin, "span": self.span, "full_span": self.full_span,
                "total_actions": self.total_actions,
                "folded": self.folded, "cpu_seconds": self.cpu_seconds, "peak_memory_bytes": self.peak_memory_bytes,
                "critical_path": self.critical_path, "window": list(self.window) if self.window else None,
                "bars": [b.to_json() for b in self.bars]}


def segments_of(info: ActionInfo, now: float) -> list[tuple[str, int, str, float, float]]:
    """(kind, attempt, phase, start, end) in epoch seconds, oldest first."""
    if info.phase is Phase.RECOVERED:
        at = info.ended_at or info.started_at or info.queued_at or now
        return [(RECOVERED, 0, Phase.RECOVERED.value, at, at)]
    out: list[tuple[str, int, str, float, float]] = []
    for u in info.usage:
        phase = u.phase.value
        due = u.queued_at or u.started_at or u.ended_at or now
        started = u.started_at or due
        running = u.running_at or started
        ended = u.ended_at or now
        if started > due:
            out.append((QUEUED, u.attempt, phase, due, started))
        if running > started:
            out.append((STARTING, u.attempt, phase, started, running))
        out.append((RUNNING, u.attempt, phase, running, max(ended, running)))
    measured = len(info.usage)
    if info.attempts > measured or not out:  # the attempt going now, or a run without attempt records
        attempt = max(info.attempts, 1)
        begin = out[-1][4] if out else (info.queued_at or info.started_at or now)
        end = info.ended_at if info.phase.terminal and info.ended_at else now
        phase = info.phase.value
        if info.phase is Phase.QUEUED:  # waiting: the first time, or a retry's backoff
            out.append((QUEUED, attempt, phase, begin, max(end, begin)))
        else:
            started = info.started_at if not out and info.started_at and info.started_at >= begin else begin
            if started > begin:
                out.append((QUEUED, attempt, phase, begin, started))
            kind = STARTING if info.phase is Phase.INITIALIZING else RUNNING
            out.append((kind, attempt, phase, started, max(end, started)))
    return out


def _depths(actions: dict[str, ActionInfo]) -> dict[str, int]:
    depth: dict[str, int] = {}

    def of(name: str) -> int:
        seen = []
        d = 0
        cur = name
        while cur in actions and actions[cur].parent and cur not in seen:
            if cur in depth:
                d += depth[cur]
                break
            seen.append(cur)
            cur = actions[cur].parent or ""
            d += 1
        depth[name] = d
        return d

    for name in actions:
        of(name)
    return depth


def critical_path(actions: dict[str, ActionInfo]) -> list[str]:
    """From the root down, each time the child that ended last: what the parent waited for."""
    children: dict[str, list[ActionInfo]] = {}
    for info in actions.values():
        if info.parent:
            children.setdefault(info.parent, []).append(info)
    root = actions.get("a0") or next((a for a in actions.values() if not a.parent), None)
    path: list[str] = []
    cur = root
    while cur is not None and cur.name not in path:
        path.append(cur.name)
        kids = [k for k in children.get(cur.name, []) if k.phase is not Phase.RECOVERED]
        cur = max(kids, key=lambda k: (k.ended_at or float("inf"), k.name), default=None)
    return path


def _usage_totals(actions: Iterable[ActionInfo]) -> tuple[float | None, int | None]:
    cpu: float | None = None
    peak: int | None = None
    for info in actions:
        for u in info.usage:
            if u.cpu_seconds is not None:
                cpu = (cpu or 0.0) + u.cpu_seconds
            if u.peak_memory_bytes is not None:
                peak = max(peak or 0, u.peak_memory_bytes)
    return cpu, peak


def _bucket_of(info: ActionInfo) -> str:
    return info.group or f"{info.parent}:{info.task}"


def layout(run: str, actions: dict[str, ActionInfo], *, now: float | None = None, max_rows: int = 200,
           bucket: int = 5, expand: Iterable[str] = (), window: tuple[float, float] | None = None,
           label: Callable[[ActionInfo], str] | None = None, member_segments: bool = True) -> Timeline:
    """The timeline of `actions` (see the module docstring for folding and the window).
    `label(info)`: a drawn row's label (asked only for the rows drawn); else the task's short name.
    `member_segments=False`: folded rows without their members' running segments (what
    `timeline_text` does not show, and most of what a fan-out of thousands costs to lay out)."""
    now = time.time() if now is None else now
    infos = sorted(actions.values(), key=lambda a: (a.queued_at or a.started_at or now, a.name))
    raw = {a.name: segments_of(a, now) for a in infos}
    starts = [s[3] for segs in raw.values() for s in segs]
    origin = min(starts) if starts else now
    end = max([s[4] for segs in raw.values() for s in segs] or [origin])
    depth = _depths(actions)
    critical = critical_path(actions)
    on_path = set(critical)

    def rel(t: float) -> float:
        return round(t - origin, 6)

    def bar_of(info: ActionInfo) -> Bar:
        segs = [Segment(k, att, ph, rel(s), rel(e)) for k, att, ph, s, e in raw[info.name]]
        cpu, peak = _usage_totals([info])
        text = label(info) if label is not None else info.task.rsplit(".", 1)[-1]
        return Bar(key=info.name, label=text, task=info.task,
                   group=info.group, depth=depth.get(info.name, 0), phase=info.phase.value,
                   start=min((s.start for s in segs), default=0.0), end=max((s.end for s in segs), default=0.0),
                   segments=segs, attempts=max(info.attempts, 1), cpu_seconds=cpu, peak_memory_bytes=peak,
                   recovered_from=info.recovered_from, critical=info.name in on_path,
                   usage={str(u.attempt): {"cpu_seconds": u.cpu_seconds, "peak_memory_bytes": u.peak_memory_bytes}
                          for u in info.usage if u.cpu_seconds is not None or u.peak_memory_bytes is not None})

    buckets: dict[str, list[ActionInfo]] = {}
    for info in infos:
        if info.parent:
            buckets.setdefault(_bucket_of(info), []).append(info)
    expanded = set(expand)
    fold = set()
    if len(infos) > max_rows:
        fold = {k for k, members in buckets.items() if len(members) > bucket and k not in expanded}
    bars: list[Bar] = []
    placed: set[str] = set()
    for info in infos:
        key = _bucket_of(info) if info.parent else None
        if key is not None and key in fold:
            if key in placed:
                continue
            placed.add(key)
            bars.append(_folded(key, buckets[key], raw, rel, depth, on_path, member_segments))
            continue
        bars.append(bar_of(info))
    if window is not None:
        lo, hi = window
        bars = [_clip(b, lo, hi) for b in bars if b.end >= lo and b.start <= hi]
    cpu, peak = _usage_totals(infos)
    return Timeline(run=run, origin=origin, span=max(end - origin, 0.0) if window is None else window[1] - window[0],
                    bars=bars, total_actions=len(infos), folded=sorted(fold), cpu_seconds=cpu,
                    peak_memory_bytes=peak, critical_path=critical, window=window, full_span=max(end - origin, 0.0))


def _folded(key: str, members: list[ActionInfo], raw: dict[str, list[tuple[str, int, str, float, float]]],
            rel: Any, depth: dict[str, int], on_path: set[str], with_segments: bool = True) -> Bar:
    """Many similar actions as one row: their span, and per member its running segment (so the
    row still shows where work happened and which attempts failed). Read from the members' raw
    segments, without a Bar per member: a fan-out of 10,000 folds in tens of milliseconds."""
    phases: dict[str, int] = {}
    segs: list[Segment] = []
    start, end = float("inf"), float("-inf")
    attempts = 1
    cpu: float | None = None
    peak: int | None = None
    for m in members:
        phase = m.phase.value
        phases[phase] = phases.get(phase, 0) + 1
        if m.attempts > attempts:
            attempts = m.attempts
        for kind, att, ph, s, e in raw[m.name]:
            if s < start:
                start = s
            if e > end:
                end = e
            if with_segments and (kind == RUNNING or kind == RECOVERED):
                segs.append(Segment(kind, att, ph, rel(s), rel(e)))
        for u in m.usage:
            if u.cpu_seconds is not None:
                cpu = (cpu or 0.0) + u.cpu_seconds
            if u.peak_memory_bytes is not None:
                peak = max(peak or 0, u.peak_memory_bytes)
    worst = next((p for p in ("FAILED", "TIMED_OUT", "ABORTED", "RUNNING", "INITIALIZING", "QUEUED") if p in phases),
                 "RECOVERED" if set(phases) == {"RECOVERED"} else "SUCCEEDED")
    first = members[0]
    name = first.group or first.task.rsplit(".", 1)[-1]
    return Bar(key=f"group:{key}", label=f"{name} ×{len(members)}", task=first.task, group=first.group,
               depth=depth.get(first.name, 0), phase=worst,
               start=rel(start) if start != float("inf") else 0.0, end=rel(end) if end != float("-inf") else 0.0,
               segments=segs, attempts=attempts, count=len(members), phases=phases, cpu_seconds=cpu,
               peak_memory_bytes=peak, critical=any(m.name in on_path for m in members))


def _clip(bar: Bar, lo: float, hi: float) -> Bar:
    segs = [dataclasses.replace(s, start=max(s.start, lo) - lo, end=min(s.end, hi) - lo)
            for s in bar.segments if s.end >= lo and s.start <= hi]
    return dataclasses.replace(bar, segments=segs, start=max(bar.start, lo) - lo, end=min(bar.end, hi) - lo)


# -- text ----------------------------------------------------------------------------------------


def memory_text(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def seconds_text(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 60:
        return f"{s:.2f}s" if s < 10 else f"{s:.1f}s"
    minutes, secs = divmod(int(s), 60)
    return f"{minutes}m{secs:02d}s" if minutes < 60 else f"{minutes // 60}h{minutes % 60:02d}m"


def _split(bar: Bar) -> dict[str, float]:
    out = {QUEUED: 0.0, STARTING: 0.0, RUNNING: 0.0}
    for s in bar.segments:
        if s.kind in out:
            out[s.kind] += s.end - s.start
    return out


def timeline_text(tl: Timeline, top: int = 5) -> str:
    """The critical path and where the time went, for terminals and nbconvert output."""
    by_key = {b.key: b for b in tl.bars}
    lines = [f"Timeline of run {tl.run}: {tl.total_actions} actions over {seconds_text(tl.span)}; "
             f"CPU {seconds_text(tl.cpu_seconds)}, peak memory {memory_text(tl.peak_memory_bytes)}"]
    lines.append("critical path (what each parent waited for last):")
    for name in tl.critical_path:
        bar = by_key.get(name)
        if bar is None:
            lines.append(f"  {name} (in a folded group)")
            continue
        split = _split(bar)
        retries = f", {bar.attempts} attempts" if bar.attempts > 1 else ""
        lines.append(f"  {'  ' * min(bar.depth, 8)}{bar.label} [{name}] {bar.phase} "
                     f"{seconds_text(bar.start)} → {seconds_text(bar.end)}: queued {seconds_text(split[QUEUED])}, "
                     f"starting {seconds_text(split[STARTING])}, running {seconds_text(split[RUNNING])}{retries}")
    longest = sorted((b for b in tl.bars if b.count == 1 and b.phase != "RECOVERED"),
                     key=lambda b: b.end - b.start, reverse=True)[:top]
    if longest:
        lines.append(f"longest {len(longest)}:")
        for b in longest:
            cost = f", CPU {seconds_text(b.cpu_seconds)}, peak {memory_text(b.peak_memory_bytes)}" \
                if b.cpu_seconds is not None else ""
            lines.append(f"  {b.label} [{b.key}] {b.phase} {seconds_text(b.end - b.start)}{cost}")
    recovered = sum(1 for b in tl.bars if b.phase == "RECOVERED") + sum(
        b.phases.get("RECOVERED", 0) for b in tl.bars if b.count > 1)
    if recovered:
        lines.append(f"{recovered} actions recovered from an earlier run (they did not run)")
    return "\n".join(lines)


__all__ = ["Bar", "Segment", "Timeline", "critical_path", "layout", "memory_text", "seconds_text",
           "segments_of", "timeline_text"]

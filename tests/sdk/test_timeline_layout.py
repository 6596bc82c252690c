"""The timeline's layout, SVG and text (one set of numbers for the widget, the terminal and the panel)."""

from __future__ import annotations

import re

from flyte_jupyter._internal.display.timeline import layout, timeline_text
from flyte_jupyter._internal.display.timeline_svg import RunTimeline, timeline_svg
from flyte_jupyter._internal.wire.models import ActionError, ActionInfo, AttemptUsage, Phase

T0 = 1_000_000.0


def _info(name: str, parent: str | None, *, task: str = "m.child", phase: Phase = Phase.SUCCEEDED,
          queued: float = 0.0, usage: tuple = (), group: str | None = None, **kw) -> ActionInfo:  # type: ignore[no-untyped-def]
    ended = max([u.ended_at for u in usage] or [T0 + queued + 1])
    return ActionInfo(name=name, task=task, parent=parent, run_name="r1", phase=phase,
                      attempts=max(len(usage), 1), started_at=T0 + queued, ended_at=ended,
                      queued_at=T0 + queued, usage=usage, group=group, **kw)


def _att(n: int, phase: Phase, due: float, start: float, run: float, end: float, cpu: float | None = None,
         mem: int | None = None) -> AttemptUsage:
    return AttemptUsage(n, phase, T0 + due, T0 + start, T0 + run, T0 + end, cpu, mem)


def _run() -> dict[str, ActionInfo]:
    root = _info("a0", None, task="m.main", usage=(_att(1, Phase.SUCCEEDED, 0, 0.1, 0.3, 10, 0.5, 50 << 20),))
    retried = _info("ab", "a0", usage=(_att(1, Phase.FAILED, 1, 2, 2.5, 4, 1.0, 100 << 20),
                                      _att(2, Phase.SUCCEEDED, 4, 5, 5.2, 9.5, 2.0, 300 << 20)))
    quick = _info("ac", "a0", usage=(_att(1, Phase.SUCCEEDED, 1, 1.1, 1.2, 2, 0.1, 10 << 20),))
    recovered = ActionInfo(name="ad", task="m.child", parent="a0", run_name="r1", phase=Phase.RECOVERED,
                           started_at=T0 + 0.5, ended_at=T0 + 0.5, queued_at=T0 + 0.5, recovered_from="r0/ad")
    return {a.name: a for a in (root, retried, quick, recovered)}


def test_each_attempt_is_its_own_queued_starting_running_segments() -> None:
    tl = layout("r1", _run())
    bar = next(b for b in tl.bars if b.key == "ab")
    kinds = [(s.attempt, s.kind, s.phase) for s in bar.segments]
    assert kinds == [(1, "queued", "FAILED"), (1, "starting", "FAILED"), (1, "running", "FAILED"),
                     (2, "queued", "SUCCEEDED"), (2, "starting", "SUCCEEDED"), (2, "running", "SUCCEEDED")]
    first_run = bar.segments[2]
    assert (first_run.start, first_run.end) == (2.5, 4.0)
    assert bar.attempts == 2 and bar.cpu_seconds == 3.0 and bar.peak_memory_bytes == 300 << 20
    assert tl.cpu_seconds == 3.6 and tl.peak_memory_bytes == 300 << 20
    rec = next(b for b in tl.bars if b.key == "ad")
    assert [s.kind for s in rec.segments] == ["recovered"] and rec.recovered_from == "r0/ad"
    assert tl.critical_path == ["a0", "ab"]  # the child that ended last; a recovered one never is


def test_svg_has_a_hover_title_per_segment_with_action_attempt_and_times() -> None:
    tl = layout("r1", _run())
    svg = timeline_svg(tl)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    titles = re.findall(r"<rect[^>]*data-attempt=\"(\d)\"[^>]*><title>([^<]*)</title>", svg)
    assert len(titles) == sum(len(b.segments) for b in tl.bars if b.phase != "RECOVERED")
    retry = [t for a, t in titles if "[ab]" in t and "attempt 1: running (FAILED)" in t]
    assert retry and "2.50s → 4.00s (1.50s)" in retry[0] and "CPU 1.00s, peak memory 100.0 MiB" in retry[0]
    assert "RECOVERED from r0/ad" in svg
    assert str(RunTimeline(tl)).startswith("Timeline of run r1: 4 actions")
    assert "<svg" in RunTimeline(tl)._repr_html_()


def test_text_names_the_critical_path_and_the_totals() -> None:
    text = timeline_text(layout("r1", _run()))
    assert "4 actions over 10.0s; CPU 3.60s, peak memory 300.0 MiB" in text
    path = text.split("critical path", 1)[1]
    assert "main [a0]" in path and "child [ab] SUCCEEDED" in path and "2 attempts" in path
    assert "1 actions recovered from an earlier run" in text


def test_a_thousand_actions_fold_into_groups_and_unfold_on_request() -> None:
    actions = {"a0": _info("a0", None, task="m.main", usage=(_att(1, Phase.SUCCEEDED, 0, 0, 0, 60),))}
    for i in range(1200):
        phase = Phase.FAILED if i == 7 else Phase.SUCCEEDED
        actions[f"x{i}"] = _info(f"x{i}", "a0", group="sweep" if i < 1000 else None, phase=phase,
                                 usage=(_att(1, phase, i * 0.01, i * 0.01 + 0.1, i * 0.01 + 0.2, i * 0.01 + 1),))
    tl = layout("r1", actions, max_rows=200)
    assert len(tl.bars) <= 200 and tl.total_actions == 1201
    sweep = next(b for b in tl.bars if b.key == "group:sweep")
    assert sweep.count == 1000 and sweep.phases == {"SUCCEEDED": 999, "FAILED": 1} and sweep.phase == "FAILED"
    assert sorted(tl.folded) == ["a0:m.child", "sweep"]
    opened = layout("r1", actions, max_rows=200, expand=["a0:m.child"])
    assert len([b for b in opened.bars if b.count == 1]) == 201  # the 200 ungrouped children, and a0
    zoom = layout("r1", actions, max_rows=200, expand=["sweep", "a0:m.child"], window=(5.0, 6.0))
    assert 0 < len(zoom.bars) < 300 and zoom.span == 1.0
    assert all(0 <= s.start <= s.end <= 1.0 for b in zoom.bars for s in b.segments)
    assert len(timeline_svg(tl)) < 2_000_000


def test_a_live_action_without_attempt_records_is_drawn_from_its_own_times() -> None:
    live = ActionInfo(name="a0", task="m.main", parent=None, run_name="r1", phase=Phase.RUNNING, attempts=1,
                      started_at=T0 + 1, queued_at=T0)
    tl = layout("r1", {"a0": live}, now=T0 + 5)
    assert [(s.kind, s.start, s.end) for s in tl.bars[0].segments] == [("queued", 0.0, 1.0), ("running", 1.0, 5.0)]
    failed = ActionInfo(name="a0", task="m.main", parent=None, run_name="r1", phase=Phase.FAILED, attempts=1,
                        started_at=T0 + 1, ended_at=T0 + 2, error=ActionError("ValueError", "x"))
    assert [s.kind for s in layout("r1", {"a0": failed}).bars[0].segments] == ["running"]


def test_action_info_round_trips_through_json() -> None:
    for info in _run().values():
        assert ActionInfo.from_json(info.to_json()) == info


def test_a_folded_row_says_what_its_members_rows_say_together() -> None:
    """A folded group is laid out from its members' segments without a row per member: its span,
    running segments, attempts, CPU, peak memory and critical mark are those of the members."""
    actions = {"a0": _info("a0", None, task="m.main", usage=(_att(1, Phase.SUCCEEDED, 0, 0, 0, 60),))}
    for i in range(300):
        usage = (_att(1, Phase.SUCCEEDED, i * 0.1, i * 0.1 + 0.05, i * 0.1 + 0.2, i * 0.1 + 1, 0.01 * i, i << 20),)
        if i == 5:  # retried once
            usage = (_att(1, Phase.FAILED, 0.5, 0.6, 0.7, 0.9, 0.2, 1 << 30), _att(2, Phase.SUCCEEDED, 1, 1.1, 1.2, 2))
        actions[f"x{i}"] = _info(f"x{i}", "a0", group="sweep", usage=usage)
    folded = next(b for b in layout("r1", actions, max_rows=50).bars if b.key == "group:sweep")
    members = [b for b in layout("r1", actions, max_rows=50, expand=["sweep"]).bars if b.key.startswith("x")]
    assert folded.count == len(members) == 300
    assert (folded.start, folded.end) == (min(b.start for b in members), max(b.end for b in members))
    assert folded.segments == [s for b in members for s in b.segments if s.kind in ("running", "recovered")]
    assert folded.attempts == 2 and folded.peak_memory_bytes == 1 << 30
    assert abs((folded.cpu_seconds or 0) - sum(b.cpu_seconds or 0 for b in members)) < 1e-9
    assert folded.critical == any(b.critical for b in members) is True
    text_only = layout("r1", actions, max_rows=50, member_segments=False)
    assert next(b for b in text_only.bars if b.key == "group:sweep").segments == []
    assert timeline_text(text_only) == timeline_text(layout("r1", actions, max_rows=50))


def test_the_widget_pane_labels_its_rows_as_the_tree_does_and_only_the_rows_it_draws() -> None:
    """The widget's Timeline tab tells twenty rows of one task apart by their inputs (the tree's
    labels); a label may cost a read of the action's inputs, so only drawn rows ask for one."""
    from types import SimpleNamespace

    from flyte_jupyter.kernel._timeline_view import TimelinePane

    actions = _run()
    actions.update({f"m{i}": _info(f"m{i}", "a0", task="m.sq", group="map-sq", queued=2) for i in range(300)})
    asked: list[str] = []

    def label(info: ActionInfo) -> str:
        asked.append(info.name)
        return f"{info.task.rsplit('.', 1)[-1]}(id={info.name})"

    pane = TimelinePane(SimpleNamespace(name="r1", state=SimpleNamespace(actions=actions), done=True), label)
    pane.show(True)
    assert "child(id=ab)" in pane.svg.value and "child(id=ac)" in pane.svg.value
    assert not any(name.startswith("m") for name in asked), "a folded member's label was asked for"
    pane.unfold.value = pane.unfold.options[1][1]  # the 300-wide map, unfolded
    assert "sq(id=m7)" in pane.svg.value

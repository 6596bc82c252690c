"""The run widget's counts and progress, kept up to date change by change (`LiveSummary`), say
what a full pass over the actions (`summarize`) says, for any order of changes."""

from __future__ import annotations

import random
import time

from flyte_jupyter._internal.controllers.run_state import RunState
from flyte_jupyter._internal.wire.models import ActionError, ActionEvent, Phase
from flyte_jupyter.kernel._tree import FoldCache, LiveSummary, summarize


def _event(name: str, parent: str | None, phase: Phase, group: str | None = None, attempt: int = 1) -> ActionEvent:
    error = ActionError(kind="ValueError", message="bad") if phase in (Phase.FAILED, Phase.TIMED_OUT) else None
    return ActionEvent(action=name, task="t.leaf" if parent else "t.main", parent=parent, run_name="r",
                       phase=phase, timestamp=time.time(), attempt=attempt, group=group, error=error)


def _same(live: LiveSummary, state: RunState) -> None:
    want, got = summarize(state.actions), live.summary()
    assert got.done == want.done and got.by_phase == want.by_phase
    assert {k: (p.done, p.total, p.failed) for k, p in got.progress.items()} == \
        {k: (p.done, p.total, p.failed) for k, p in want.progress.items()}
    assert {k: sorted(i.name for i in v) for k, v in got.failed.items()} == \
        {k: sorted(i.name for i in v) for k, v in want.failed.items()}


def test_a_summary_kept_change_by_change_matches_a_full_pass() -> None:
    rng = random.Random(7)
    state = RunState("r")
    live = LiveSummary(state.get)
    state.subscribe(lambda _e, info: live.note(info))
    state.apply(_event("a0", None, Phase.RUNNING))
    names = []
    for step in range(3000):
        if not names or rng.random() < 0.3:
            parent = rng.choice(["a0", *names[:20]])
            name = f"c{len(names)}"
            names.append(name)
            state.apply(_event(name, parent, Phase.QUEUED, group=rng.choice([None, None, "g"])))
        else:
            name = rng.choice(names)
            info = state.get(name)
            assert info is not None
            phase = rng.choice([Phase.RUNNING, Phase.SUCCEEDED, Phase.FAILED, Phase.TIMED_OUT, Phase.QUEUED,
                                Phase.ABORTED])
            state.apply(_event(name, info.parent, phase, group=info.group, attempt=info.attempts + 1))
        if step % 500 == 0:
            _same(live, state)
    state.apply(_event("a0", None, Phase.SUCCEEDED))
    _same(live, state)
    fresh = LiveSummary(state.get)
    fresh.sync(state.actions)  # what a view that subscribed late rebuilds
    assert fresh.summary().by_phase == live.summary().by_phase


def _entries(state: RunState, cache: FoldCache | None = None, **kw: object) -> list[tuple]:
    from flyte_jupyter.kernel._tree import visible_entries

    actions, children = state.snapshot()
    by_index = visible_entries(actions, set(), {}, 20, 150, children_index=children, cache=cache,  # type: ignore[arg-type]
                               **kw)
    by_pass = visible_entries(actions, set(), {}, 20, 150, **kw)  # type: ignore[arg-type]
    rows = [[(e.key, e.depth, e.more, e.group) for e in entries] for entries, _hidden in (by_index, by_pass)]
    assert rows[0] == rows[1] and by_index[1] == by_pass[1]
    return rows[0]


def test_the_tree_drawn_from_the_kept_children_index_is_the_tree_of_a_full_pass() -> None:
    """A render walks `RunState.snapshot`'s children index instead of indexing every action, and
    folds only the children that came since its last render (`FoldCache`): the same rows, groups,
    "more" lines and hidden count as a full pass, render after render, also while a parent is
    not known yet."""
    rng = random.Random(11)
    state, cache = RunState("r"), FoldCache()
    state.apply(_event("c-orphan", "p-unknown", Phase.RUNNING))  # its parent comes later (or never)
    state.apply(_event("a0", None, Phase.RUNNING))
    names: list[str] = []
    for i in range(600):
        parent = rng.choice(["a0", "a0", *names[:5]])
        names.append(f"c{i}")
        state.apply(_event(f"c{i}", parent, Phase.QUEUED, group=rng.choice([None, None, "g", "h"])))
        if i % 97 == 0:
            _entries(state, cache)
    rows = _entries(state, cache)
    assert rows[0][0] == "c-orphan" and any(key.startswith("more:") for key, *_ in rows)
    state.apply(_event("p-unknown", "a0", Phase.RUNNING))
    for i in range(600, 700):  # the index is complete now: the cache takes over from here
        state.apply(_event(f"c{i}", rng.choice(["a0", "c1", "p-unknown"]), Phase.QUEUED, group=rng.choice([None, "g"])))
        if i % 13 == 0:
            _entries(state, cache)
    _entries(state, cache)
    assert [a.name for a in state.children("a0")][:3] == [n for n in names if state.get(n).parent == "a0"][:3]


def test_the_queued_count_is_kept_without_reading_the_actions() -> None:
    state = RunState("r")
    live = LiveSummary(state.get)
    state.subscribe(lambda _e, info: live.note(info))
    state.apply(_event("a0", None, Phase.RUNNING))
    for i in range(50):
        state.apply(_event(f"c{i}", "a0", Phase.QUEUED))
    for i in range(20):
        state.apply(_event(f"c{i}", "a0", Phase.SUCCEEDED))
    assert live.count(Phase.QUEUED) == 30 and live.count(Phase.SUCCEEDED) == 20 and live.count(Phase.FAILED) == 0


def test_changes_noted_while_the_view_counts_are_all_counted_once() -> None:
    """The applying thread only notes changes; the views loop counts them when it asks. Counting
    while another thread applies thousands of changes loses none and counts none twice."""
    import threading

    state = RunState("r")
    live = LiveSummary(state.get)
    state.subscribe(lambda _e, info: live.note(info))
    state.apply(_event("a0", None, Phase.RUNNING))
    asked = []

    def apply_all() -> None:
        for i in range(4000):
            state.apply(_event(f"c{i}", "a0", Phase.QUEUED, group="g" if i % 3 == 0 else None))
            state.apply(_event(f"c{i}", "a0", Phase.RUNNING))
            state.apply(_event(f"c{i}", "a0", Phase.FAILED if i % 7 == 0 else Phase.SUCCEEDED))

    applier = threading.Thread(target=apply_all)
    applier.start()
    while applier.is_alive():
        asked.append(live.summary().done)  # counted meanwhile, as renders do
    applier.join()
    _same(live, state)
    assert live.size() == 4001 and live.count(Phase.FAILED) == len(range(0, 4000, 7))
    assert len(asked) > 1 and asked == sorted(asked)  # it only ever moved forward

"""`ReusePolicy(concurrency=N)`: a warm worker runs up to N async actions at once, on one loop,
each still its own action (its log, its timeout, its abort, its retries)."""

from __future__ import annotations

import os
import time

from flows import warm_concurrent as wc

import flyte_jupyter as flyte


def _children(run, task: str) -> list:  # type: ignore[no-untyped-def]
    return [a for a in run.actions.values() if a.task == task]


def _overlapping(spans: list[list[float]]) -> bool:
    return max(s[1] for s in spans) < min(s[2] for s in spans)


def _warm() -> None:
    """Start the environment's worker and wait until it takes actions: those that find none ready
    run forked meanwhile, each in a process of its own, so two runs in a row served by one pid
    mean the worker is up (on a loaded machine it can take longer than the first run)."""
    deadline = time.monotonic() + 30
    last = None
    while time.monotonic() < deadline:
        ((pid, _, _),) = flyte.with_runcontext(mode="remote").run(wc.overlap, n=1, seconds=0.0).outputs()
        if pid == last:
            return
        last = pid
    raise AssertionError("the reusable environment's worker never took an action")


def test_async_actions_overlap_in_one_worker_each_with_its_own_log(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    _warm()
    run = flyte.with_runcontext(mode="remote").run(wc.overlap, n=4, seconds=1.5)
    spans = run.outputs()
    assert len({s[0] for s in spans}) == 1, f"not one worker: {spans}"
    assert _overlapping(spans), f"the actions ran one after another: {spans}"
    for child in _children(run, "shared.span"):
        lines = run.logs(child.name)
        own = [line for line in lines if line.startswith("span ")]
        assert len(own) == 2 and len({line.split()[1] for line in own}) == 1, (child.name, lines)


def test_a_timeout_ends_only_that_action_and_its_retry_is_exact(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    _warm()
    run = flyte.with_runcontext(mode="remote").run(wc.one_times_out, seconds=1.5)
    spans = run.outputs()
    assert len({s[0] for s in spans}) == 1 and _overlapping(spans), spans
    (stuck,) = _children(run, "shared.stuck")
    assert stuck.phase is flyte.Phase.TIMED_OUT
    assert stuck.attempts == 2 and [a.phase for a in stuck.attempt_history] == [flyte.Phase.TIMED_OUT] * 2
    for sibling in _children(run, "shared.span"):
        assert sibling.phase is flyte.Phase.SUCCEEDED and sibling.attempts == 1, sibling


def test_an_abort_ends_only_that_action(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    _warm()
    run = flyte.with_runcontext(mode="remote").run(wc.one_aborted, seconds=2.0)
    spans = run.outputs()
    assert len({s[0] for s in spans}) == 1, spans
    doomed = next(a for a in _children(run, "shared.span") if a.phase is not flyte.Phase.SUCCEEDED)
    assert doomed.phase is flyte.Phase.ABORTED and doomed.attempts == 1
    assert sum(a.phase is flyte.Phase.SUCCEEDED and a.attempts == 1 for a in _children(run, "shared.span")) == 3


def test_a_failed_attempt_is_retried_beside_its_neighbours(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    _warm()
    run = flyte.with_runcontext(mode="remote").run(wc.one_retried, seconds=1.0)
    run.outputs()
    (flaky,) = _children(run, "shared.flaky")
    assert flaky.phase is flyte.Phase.SUCCEEDED and flaky.attempts == 2
    assert [a.phase for a in flaky.attempt_history][0] is flyte.Phase.FAILED
    (span,) = _children(run, "shared.span")
    assert span.attempts == 1


def test_sync_tasks_of_a_concurrent_environment_run_one_at_a_time_per_worker(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    _warm()
    run = flyte.with_runcontext(mode="remote").run(wc.sync_ones, n=3, seconds=0.6)
    spans = run.outputs()
    by_worker: dict[float, list[list[float]]] = {}
    for s in spans:
        by_worker.setdefault(s[0], []).append(sorted(s))
    for pid, mine in by_worker.items():
        mine.sort(key=lambda s: s[1])
        for a, b in zip(mine, mine[1:]):
            assert a[2] <= b[1], f"sync actions overlapped in worker {pid}: {mine}"


def test_concurrent_actions_write_relative_paths_into_the_workers_own_directory(backend_factory) -> None:  # type: ignore[no-untyped-def]
    """They share one process, so one cwd: the worker's home under the data dir, never the directory
    the backend was started from; it goes with the worker."""
    backend = backend_factory().start()
    backend.use()
    try:
        _warm()
        paths = flyte.with_runcontext(mode="remote").run(wc.scratch_files, n=3).outputs()
        homes = backend.data_dir / "work" / "_workers"
        assert len({os.path.dirname(p) for p in paths}) == 1, paths
        assert os.path.dirname(os.path.dirname(paths[0])) == str(homes), paths
        assert all(os.path.exists(p) for p in paths)
        assert not any(os.path.exists(os.path.basename(p)) for p in paths), "written into the backend's cwd"
    finally:
        flyte.init()
        backend.stop()
    deadline = time.monotonic() + 15  # the idle worker sees the backend's end close, then exits
    while os.path.exists(os.path.dirname(paths[0])) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(os.path.dirname(paths[0])), "the worker's home outlived it"

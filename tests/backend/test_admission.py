"""Admission by requested resources (issue 15): an action starts when its CPU and memory requests
fit the backend's capacity, as the kube-scheduler binds pods to a node.

Each test reads when every child's code ran from the child itself (its outputs: start and end
times) and counts the most that ran at once: wall time alone could not tell two at a time from
one at a time with a fast machine."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from flows import admission

import flyte_jupyter as flyte
from flyte_jupyter.errors import BackendError


def _most_at_once(spans: list[list[float]]) -> int:
    """The largest number of [start, end] spans that overlap at one moment."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans], key=lambda ev: (ev[0], ev[1]))
    most = now = 0
    for _, step in events:
        now += step
        most = max(most, now)
    return most


def _backend(backend_factory: Any, tmp_path: Path, config: dict | None = None) -> Any:
    args: list[str] = []
    if config:
        path = tmp_path / "backend.yaml"
        path.write_text(json.dumps(config))  # JSON is YAML
        args = ["--config", str(path)]
    backend = backend_factory(extra_args=args).start()
    backend.use()
    return backend


def _wait_until(predicate: Any, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


def test_thirty_children_that_request_nothing_run_as_many_at_once_as_their_defaults_fit(backend_factory: Any,
                                                                                       tmp_path: Path) -> None:
    """The machine's own capacity and the default requests (cpu 50m, memory 200Mi): twenty
    children per core run at once (all thirty on two cores), not one per core as before, so thirty
    sleeping children take one sleep here, not fifteen."""
    backend = _backend(backend_factory, tmp_path)
    cores = asyncio.run(backend.client().status())["cpu_capacity"]
    fit = min(30, int(round(cores * 1000)) // 50)
    waves = -(-30 // fit)
    started = time.monotonic()
    spans = flyte.with_runcontext(mode="remote").run(admission.fan, n=30, s=5.0).outputs()
    took = time.monotonic() - started
    assert len(spans) == 30
    assert _most_at_once(spans) == fit, spans
    assert took < waves * 5.0 + 8, f"30 children sleeping 5 s took {took:.1f} s ({fit} at once, {waves} waves)"


def test_children_that_request_a_core_each_run_two_at_a_time_on_two_cores(backend_factory: Any, tmp_path: Path) -> None:
    backend = _backend(backend_factory, tmp_path, {"capacity": {"cpu": 2}})
    run = flyte.with_runcontext(mode="remote").run(admission.fan_core, n=8, s=1.0)
    facts: dict[str, Any] = {}

    def queued_while_two_run() -> bool:
        facts.update(asyncio.run(backend.client().status()))
        return facts["queued_actions"] >= 1 and facts["cpu_requested"] == 2.0

    assert _wait_until(queued_while_two_run, 60), facts
    assert facts["cpu_capacity"] == 2.0 and facts["waiting_parents"] == 1  # the parent gave its 50m back
    spans = run.outputs()
    assert _most_at_once(spans) == 2, spans
    status = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "backend", "status", "--data-dir",
                             str(backend.data_dir)], capture_output=True, text=True, timeout=60)
    assert status.returncode == 0, status.stderr
    assert "capacity: cpu 0 of 2 requested (2 free)" in status.stdout, status.stdout


def test_a_request_below_its_limit_is_what_admission_charges(backend_factory: Any, tmp_path: Path) -> None:
    """`Resources(cpu=("500m", "1"))`: each child is charged its request, half a core, so four run
    at once on two cores (a limit of one core each would allow two), as the kube-scheduler binds
    pods by their requests."""
    backend = _backend(backend_factory, tmp_path, {"capacity": {"cpu": 2}})
    run = flyte.with_runcontext(mode="remote").run(admission.fan_burst, n=8, s=1.5)
    facts: dict[str, Any] = {}

    def four_running() -> bool:
        facts.update(asyncio.run(backend.client().status()))
        return facts["cpu_requested"] == 2.0 and facts["queued_actions"] >= 1

    assert _wait_until(four_running, 60), facts
    spans = run.outputs()
    assert _most_at_once(spans) == 4, spans

    async def child_spec() -> Any:
        client = backend.client()
        child = next(a for a in await client.get_run_actions(run.name) if a.parent)
        return (await client.get_action_spec(run.name, child.id.name))[1]

    spec = asyncio.run(child_spec())  # the request and the limit travel apart
    assert (spec.requests.cpu, spec.resources.cpu) == ("500m", "1"), spec


def test_a_request_that_does_not_fit_yet_lets_smaller_ones_behind_it_start(backend_factory: Any,
                                                                           tmp_path: Path) -> None:
    """One core taken, the whole two cores asked next, two small requests last: the small ones start
    at once (they fit), the large one when the core is free, as pods that fit a node are bound
    while one that does not waits."""
    _backend(backend_factory, tmp_path, {"capacity": {"cpu": 2}})
    core, whole, *small = flyte.with_runcontext(mode="remote").run(admission.mixed, s=3.0).outputs()
    assert all(start < core[1] for start, _ in small), (core, small)
    assert whole[0] >= core[1] and all(whole[0] >= end for _, end in small), (core, whole, small)


def test_memory_requests_are_admitted_against_the_memory_capacity(backend_factory: Any, tmp_path: Path) -> None:
    """400Mi each in 1Gi: two fit, a third does not (the CPU, 50m each of 8, is no bound here)."""
    _backend(backend_factory, tmp_path, {"capacity": {"cpu": 8, "memory": "1Gi"}})
    spans = flyte.with_runcontext(mode="remote").run(admission.fan_roomy, n=6, s=1.0).outputs()
    assert _most_at_once(spans) == 2, spans


def test_a_reusable_environment_runs_as_many_of_its_actions_at_once_as_it_has_replicas(backend_factory: Any,
                                                                                      tmp_path: Path) -> None:
    """Plenty of capacity, two replicas: the others wait for a warm worker instead of each being
    forked (as Flyte 2 dispatches a reusable environment's actions to its replicas)."""
    _backend(backend_factory, tmp_path)
    spans = flyte.with_runcontext(mode="remote").run(admission.fan_warm, n=6, s=1.0).outputs()
    assert len(spans) == 6 and _most_at_once(spans) == 2, spans


def test_the_default_requests_and_the_project_defaults_decide_what_runs_at_once(backend_factory: Any,
                                                                                tmp_path: Path) -> None:
    backend = _backend(backend_factory, tmp_path, {"capacity": {"cpu": 2}, "default_requests": {"cpu": "500m"}})
    spans = flyte.with_runcontext(mode="remote").run(admission.fan, n=8, s=1.0).outputs()
    assert _most_at_once(spans) == 4, spans  # 500m each in 2 cores
    # A project-domain default (`admin resource-attributes update`) wins over the backend's own;
    # it is filled into the versions stored from then on (a stored version keeps its resources).
    asyncio.run(backend.client().update_resource_attributes("default", "staging", {"cpu": "1"}, {}))
    spans = flyte.with_runcontext(mode="remote", domain="staging").run(admission.fan, n=6, s=1.0).outputs()
    assert _most_at_once(spans) == 2, spans  # 1 core each in 2 cores


def test_a_request_over_the_whole_capacity_is_refused_at_once_with_the_fix(backend_factory: Any, tmp_path: Path) -> None:
    _backend(backend_factory, tmp_path, {"capacity": {"cpu": 1, "memory": "8Gi"}})
    with pytest.raises(Exception) as refused:
        flyte.with_runcontext(mode="remote").run(admission.huge_task)
    text = str(refused.value)
    assert "requests cpu 2" in text and "capacity (cpu 1, memory 8Gi)" in text and "backend.yaml" in text, text
    started = time.monotonic()
    run = flyte.with_runcontext(mode="remote").run(admission.calls_huge)
    run.wait(timeout=60)
    assert time.monotonic() - started < 30  # not queued forever
    assert run.phase is flyte.Phase.FAILED
    root = run.actions["a0"]
    assert root.error is not None and "requests cpu 2" in str(root.error.message), root.error
    assert [a for a in run.actions.values() if a.name != "a0"] == []  # the child was never stored


def test_a_queued_action_over_a_capacity_shrunk_by_a_restart_fails_naming_it(backend_factory: Any,
                                                                            tmp_path: Path) -> None:
    backend = _backend(backend_factory, tmp_path, {"capacity": {"cpu": 2}})
    run = flyte.with_runcontext(mode="remote").run(admission.mixed, s=4.0)
    facts: dict[str, Any] = {}

    def the_whole_machine_request_waits() -> bool:
        facts.update(asyncio.run(backend.client().status()))
        return facts["queued_actions"] == 1 and facts["cpu_requested"] == 1.0

    assert _wait_until(the_whole_machine_request_waits, 60), facts
    time.sleep(0.5)  # the running one's handle is recorded
    backend.kill()
    (tmp_path / "backend.yaml").write_text(json.dumps({"capacity": {"cpu": 1}}))
    backend.start()
    run.wait(timeout=60)
    assert run.phase is flyte.Phase.FAILED
    whole = [a for a in run.actions.values() if a.task.endswith("huge_sleeper")]
    assert len(whole) == 1 and whole[0].phase is flyte.Phase.FAILED, run.actions
    assert whole[0].error is not None and "capacity (cpu 1," in whole[0].error.message, whole[0].error


def test_a_backend_restarted_with_actions_queued_keeps_admitting_within_the_capacity(backend_factory: Any,
                                                                                    tmp_path: Path) -> None:
    """SIGKILL while two one-core children run and two wait, one of them a retry queued again
    behind children created after it. Recovery goes in creation order, so it meets that retry
    before the two running children: they must be counted before anything queued is admitted, or
    three would run at once."""
    backend = _backend(backend_factory, tmp_path, {"capacity": {"cpu": 2}})
    markers = tmp_path / "markers"
    markers.mkdir()
    run = flyte.with_runcontext(mode="remote").run(admission.fan_flaky_core, n=4, s=4.0, marker_dir=str(markers))
    facts: dict[str, Any] = {}
    seen: list[tuple[bool, int, float, int]] = []  # what each poll saw, for the failure message

    def two_running_two_queued_one_a_retry() -> bool:
        facts.update(asyncio.run(backend.client().status()))
        sample = ((markers / "failed-once").exists(), facts["queued_actions"], facts["cpu_requested"],
                  facts["running_actions"])
        if not seen or seen[-1] != sample:
            seen.append(sample)
        return sample[0] and sample[1] == 2 and sample[2] == 2.0

    assert _wait_until(two_running_two_queued_one_a_retry, 60), (
        "(failed once, queued, cpu requested, running) as the polls saw them:", seen,
        [(a.name, a.phase, a.attempts) for a in run.actions.values()])
    time.sleep(0.5)  # the running ones' handles are recorded
    backend.kill()
    backend.start()
    after: dict[str, Any] = {}

    def answers() -> bool:  # a new channel may share the subchannel grpc saw refused a moment ago
        try:
            after.update(asyncio.run(backend.client().status()))
        except BackendError:
            return False
        return True

    assert _wait_until(answers, 30)
    assert after["cpu_requested"] <= 2.0 and after["running_actions"] <= 2, after
    spans = run.outputs()
    assert len(spans) == 4
    assert _most_at_once(spans) == 2, spans


@pytest.mark.parametrize("config, says", [
    ({"capacity": {"cpu": "lots"}}, "capacity: cpu 'lots' is not a quantity"),
    ({"capacity": {"cpu": 0}}, "capacity: cpu '0' must be more than 0"),
    ({"capacity": {"gpu": 1}}, "capacity must be a mapping with cpu and/or memory"),
    ({"default_requests": {"memory": "-1Gi"}}, "default_requests: memory '-1Gi' is not a quantity"),
    ({"max_parallelism": -1}, "max_parallelism must be 0"),
])
def test_a_bad_capacity_or_default_request_stops_the_backend_at_start_naming_it(backend_factory: Any, tmp_path: Path,
                                                                                config: dict, says: str) -> None:
    path = tmp_path / "backend.yaml"
    path.write_text(json.dumps(config))
    with pytest.raises(RuntimeError) as failed:
        backend_factory(extra_args=["--config", str(path)]).start()
    assert says in str(failed.value), str(failed.value)[-2000:]

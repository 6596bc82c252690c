"""Rerun and recover against a real backend (Flyte 2's `flyte.rerun`), and per-attempt cost."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from flows import rerunnable

import flyte_jupyter as flyte
from flyte_jupyter.errors import ActionFailedError


def _markers(directory: Path, i: int | None = None) -> list[Path]:
    return sorted(directory.glob("square-*" if i is None else f"square-{i}-*"))


def _failed_run(tmp_path: Path) -> tuple[str, Path]:
    markers = tmp_path / "markers"
    markers.mkdir()
    run = flyte.with_runcontext(mode="remote").run(rerunnable.fan, n=20, marker_dir=str(markers))
    with pytest.raises(ActionFailedError):
        run.outputs()
    assert run.phase is flyte.Phase.FAILED
    return run.name, markers


def test_recover_after_the_env_var_is_fixed_runs_only_the_failed_child(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source, markers = _failed_run(tmp_path)
    first = {p.name for p in _markers(markers)}
    assert len(first) == 20

    rerun = flyte.with_runcontext(env_vars={"RERUN_FIXED": "1"}).rerun(source, recover=True)
    assert rerun.name != source
    assert rerun.outputs() == sum(i * i for i in range(20))
    assert rerun.phase is flyte.Phase.SUCCEEDED

    actions = rerun.actions
    children = [a for a in actions.values() if a.parent == "a0"]
    assert len(children) == 20
    recovered = [a for a in children if a.phase is flyte.Phase.RECOVERED]
    ran = [a for a in children if a.phase is flyte.Phase.SUCCEEDED]
    assert len(recovered) == 19 and len(ran) == 1
    assert all(a.phase.succeeded and a.phase.terminal for a in recovered)
    # exactly one more execution of a child: number 13
    again = {p.name for p in _markers(markers)} - first
    assert len(again) == 1 and next(iter(again)).startswith("square-13-")
    # each recovered action names where its outputs came from, and keeps its name
    _, listed = asyncio.run(flyte_backend.client().get_run(rerun.name))
    by_name = {a.name: a for a in listed}
    for a in recovered:
        assert by_name[a.name].recovered_from == f"{source}/{a.name}"
    assert by_name[ran[0].name].recovered_from is None
    summary, _ = asyncio.run(flyte_backend.client().get_run(rerun.name))
    assert summary.labels.get("rerun-of") == source


def test_rerun_without_recover_runs_everything_again_and_fails_the_same_way(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source, markers = _failed_run(tmp_path)
    again = flyte.rerun(source)
    with pytest.raises(ActionFailedError, match="RERUN_FIXED"):
        again.outputs()
    assert len(_markers(markers)) == 40  # the recorded inputs (the same marker dir), every child ran again


def test_force_rerun_action_runs_a_recoverable_action_again(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source, markers = _failed_run(tmp_path)
    _, listed = asyncio.run(flyte_backend.client().get_run(source))
    forced = next(a.name for a in listed if a.parent == "a0" and a.phase is flyte.Phase.SUCCEEDED)
    run = flyte.with_runcontext(env_vars={"RERUN_FIXED": "1"}).rerun(source, recover=True,
                                                                      force_rerun_actions=[forced])
    assert run.outputs() == sum(i * i for i in range(20))
    phases = {a.name: a.phase for a in run.actions.values()}
    assert phases[forced] is flyte.Phase.SUCCEEDED
    assert sum(p is flyte.Phase.RECOVERED for p in phases.values()) == 18


def test_new_inputs_combine_with_recovery(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    markers = tmp_path / "markers"
    markers.mkdir()
    ok = flyte.with_runcontext(mode="remote", env_vars={"RERUN_FIXED": "1"}).run(
        rerunnable.fan, n=20, marker_dir=str(markers))
    assert ok.outputs() == sum(i * i for i in range(20))
    more = flyte.rerun(ok.name, recover=True, n=23)  # the source's env vars carry over
    assert more.outputs() == sum(i * i for i in range(23))
    phases = [a.phase for a in more.actions.values() if a.parent == "a0"]
    assert phases.count(flyte.Phase.RECOVERED) == 20 and phases.count(flyte.Phase.SUCCEEDED) == 3
    assert more.actions["a0"].phase is flyte.Phase.SUCCEEDED  # new inputs: the root ran
    assert len(_markers(markers)) == 23
    with pytest.raises(TypeError, match="no input 'm'"):
        flyte.rerun(ok.name, m=1)


def test_action_name_roots_the_new_run_at_a_child_with_its_inputs(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source, markers = _failed_run(tmp_path)
    _, listed = asyncio.run(flyte_backend.client().get_run(source))
    failed = next(a for a in listed if a.parent == "a0" and a.phase is flyte.Phase.FAILED)
    alone = flyte.with_runcontext(env_vars={"RERUN_FIXED": "1"}).rerun(source, action_name=failed.name)
    assert alone.outputs() == 13 * 13
    assert set(alone.actions) == {"a0"} and alone.actions["a0"].task == "rerunnable.square"
    tripled = flyte.with_runcontext(env_vars={"RERUN_FIXED": "1"}).rerun(source, action_name=failed.name, factor=3)
    assert tripled.outputs() == 13 * 13 * 3


def test_action_name_with_recover_recovers_the_succeeded_descendants_of_that_action(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    markers = tmp_path / "markers"
    markers.mkdir()
    run = flyte.with_runcontext(mode="remote").run(rerunnable.top, n=16, marker_dir=str(markers))
    with pytest.raises(ActionFailedError):
        run.outputs()
    source = run.name
    _, listed = asyncio.run(flyte_backend.client().get_run(source))
    fan = next(a for a in listed if a.parent == "a0" and a.task == "rerunnable.fan")
    source_squares = {a.name for a in listed if a.parent == fan.name}
    assert len(source_squares) == 16
    first = {p.name for p in _markers(markers)}

    rerun = flyte.with_runcontext(env_vars={"RERUN_FIXED": "1"}).rerun(source, action_name=fan.name, recover=True)
    assert rerun.outputs() == sum(i * i for i in range(16))
    actions = rerun.actions
    assert actions["a0"].task == "rerunnable.fan" and actions["a0"].phase is flyte.Phase.SUCCEEDED
    children = [a for a in actions.values() if a.parent == "a0"]
    recovered = [a for a in children if a.phase is flyte.Phase.RECOVERED]
    assert len(children) == 16 and len(recovered) == 15
    # only child 13 ran again; the others came from the source's children of the fan, re-rooted
    again = {p.name for p in _markers(markers)} - first
    assert len(again) == 1 and next(iter(again)).startswith("square-13-")
    _, new_listed = asyncio.run(flyte_backend.client().get_run(rerun.name))
    origins = {a.recovered_from for a in new_listed if a.recovered_from}
    assert len(origins) == 15 and all(o.split("/")[0] == source for o in origins)
    assert {o.split("/")[1] for o in origins} < source_squares
    # force_rerun_actions names the source's action: it runs again too
    forced_name = sorted(o.split("/")[1] for o in origins)[0]
    forced = flyte.with_runcontext(env_vars={"RERUN_FIXED": "1"}).rerun(
        source, action_name=fan.name, recover=True, force_rerun_actions=[forced_name])
    assert forced.outputs() == sum(i * i for i in range(16))
    assert sum(a.phase is flyte.Phase.RECOVERED for a in forced.actions.values()) == 14


def test_rerun_errors_name_the_problem(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    from flyte_jupyter.errors import BackendError

    with pytest.raises(BackendError, match="does not exist"):
        flyte.rerun("rnosuchrun")
    with pytest.raises(BackendError, match="invalid"):
        flyte.rerun("Bad Name!")
    with pytest.raises(flyte.errors.NotSupportedHereError, match="remotely"):
        flyte.with_runcontext(mode="local").rerun("rwhatever")


def test_cli_rerun_with_recover_and_an_env_var(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    source, markers = _failed_run(tmp_path)
    out = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "rerun", source, "--recover",
                          "-e", "RERUN_FIXED=1", "--wait", "--config", str(flyte_backend.client_yaml)],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "SUCCEEDED" in out.stdout and f"rerun of {source}" in out.stdout
    assert len(_markers(markers)) == 21
    bad = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "rerun", source, "--nope", "1",
                          "--config", str(flyte_backend.client_yaml)], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "no input 'nope'" in bad.stderr


def test_each_attempt_records_cpu_and_peak_memory(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(rerunnable.hog, mb=200)
    assert run.outputs() == 200
    _, listed = asyncio.run(flyte_backend.client().get_run(run.name))
    usage = listed[0].usage
    assert len(usage) == 1
    u = usage[0]
    assert u.attempt == 1 and u.phase is flyte.Phase.SUCCEEDED
    assert u.peak_memory_bytes is not None and u.peak_memory_bytes >= 200 * 1024 * 1024
    assert u.cpu_seconds is not None and 0 < u.cpu_seconds < 60
    assert u.queued_at <= u.started_at <= u.running_at <= u.ended_at


def test_timeline_of_a_run_with_a_retry_from_the_cli(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    run = flyte.with_runcontext(mode="remote").run(rerunnable.waits_on_flaky, marker_dir=str(tmp_path))
    assert run.outputs() == 11
    _, listed = asyncio.run(flyte_backend.client().get_run(run.name))
    flaky_action = next(a for a in listed if a.task == "rerunnable.flaky")
    assert [(u.attempt, u.phase) for u in flaky_action.usage] == [(1, flyte.Phase.FAILED), (2, flyte.Phase.SUCCEEDED)]
    first, second = flaky_action.usage
    assert first.ended_at <= second.queued_at <= second.started_at <= second.ended_at
    assert all(u.cpu_seconds is not None and u.peak_memory_bytes for u in flaky_action.usage)

    base = [sys.executable, "-m", "flyte_jupyter.cli", "runs", "timeline", run.name,
            "--config", str(flyte_backend.client_yaml)]
    text = subprocess.run(base, capture_output=True, text=True, timeout=60)
    assert text.returncode == 0, text.stderr
    assert f"Timeline of run {run.name}: 3 actions" in text.stdout and "critical path" in text.stdout
    assert "waits_on_flaky [a0] SUCCEEDED" in text.stdout
    bars = json.loads(subprocess.run([*base, "--json"], capture_output=True, text=True, timeout=60).stdout)["bars"]
    flaky_bar = next(b for b in bars if b["task"] == "rerunnable.flaky")
    assert sorted({s["attempt"] for s in flaky_bar["segments"]}) == [1, 2]
    assert {s["phase"] for s in flaky_bar["segments"] if s["attempt"] == 1} == {"FAILED"}


def test_a_recovering_rerun_goes_on_recovering_after_the_backend_is_sigkilled(backend_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import time

    backend = backend_factory().start()
    backend.use()
    try:
        markers = tmp_path / "markers"
        markers.mkdir()
        source = flyte.with_runcontext(mode="remote").run(rerunnable.slow_fan, n=20, marker_dir=str(markers))
        with pytest.raises(ActionFailedError):
            source.outputs()
        assert len(_markers(markers)) == 20
        rerun = flyte.with_runcontext(env_vars={"RERUN_FIXED": "1", "SLOW_FAN_PAUSE": "3"}).rerun(
            source.name, recover=True)
        deadline = time.monotonic() + 60
        while len(list(markers.glob("slow-fan-started-*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(list(markers.glob("slow-fan-started-*"))) == 2  # the rerun's a0 is in its pause
        backend.kill()  # the children are enqueued after the restart: the rerun's source must be kept
        time.sleep(0.5)
        backend.start()
        rerun.wait(timeout=120)
        assert rerun.outputs() == sum(i * i for i in range(20))
        phases = [a.phase for a in rerun.actions.values() if a.parent == "a0"]
        assert phases.count(flyte.Phase.RECOVERED) == 19 and phases.count(flyte.Phase.SUCCEEDED) == 1
        assert len(_markers(markers)) == 21
    finally:
        backend.kill_actions()
        flyte.init()

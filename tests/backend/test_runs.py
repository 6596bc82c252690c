"""End-to-end runs against a real backend process: trees, retries, timeouts, aborts, logs, cache."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import pytest
from flows import basic, cached, failing, limits, slow

import flyte_jupyter as flyte
from flyte_jupyter.errors import ActionFailedError


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _pids(directory: Path, prefix: str) -> list[int]:
    return [int(p.name.rsplit("-", 1)[1]) for p in directory.glob(f"{prefix}*")]


def _wait_until(predicate, timeout: float = 30.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_parent_with_twenty_children_and_a_grandchild(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(basic.parent, n=20)
    assert run.mode == "remote" and run.url
    assert run.outputs() == [1000] + [i * i for i in range(1, 20)]
    assert run.phase is flyte.Phase.SUCCEEDED
    actions = run.actions
    assert len(actions) == 22
    root_children = [a for a in actions.values() if a.parent == "a0"]
    assert len(root_children) == 20 and all(a.task == "basic.child" for a in root_children)
    grandchildren = [a for a in actions.values() if a.task == "basic.grandchild"]
    assert len(grandchildren) == 1 and grandchildren[0].parent in {a.name for a in root_children}
    assert all(a.phase is flyte.Phase.SUCCEEDED for a in actions.values())

    summary, listed = asyncio.run(flyte_backend.client().get_run(run.name))
    assert summary.phase is flyte.Phase.SUCCEEDED and summary.action_count == 22
    assert {a.name for a in listed} == set(actions)


def test_failing_child_is_retried_with_backoff_and_parent_sees_the_error(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(failing.parent_of_flaky, x=7, marker_dir=str(tmp_path))
    with pytest.raises(ActionFailedError) as info:
        run.outputs()
    err = info.value
    assert err.kind == "ValueError" and "bad input 7" in err.message
    assert err.task == "failing.flaky" and err.attempts == 3
    assert run.phase is flyte.Phase.FAILED
    child = [a for a in run.actions.values() if a.task == "failing.flaky"][0]
    assert child.attempts == 3 and child.phase is flyte.Phase.FAILED
    assert len(list(tmp_path.glob("attempt-*"))) == 3  # three separate processes ran it


def test_timeout_kills_the_process(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(slow.too_slow, seconds=120, pid_dir=str(tmp_path))
    run.wait(timeout=60)
    assert run.phase is flyte.Phase.TIMED_OUT
    assert "timeout" in run.root.error.message
    pids = _pids(tmp_path, "pid")
    assert len(pids) == 1
    assert _wait_until(lambda: not _alive(pids[0]), 10), "the timed-out process still runs"


def test_abort_stops_the_run_and_all_live_actions(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(slow.sleepy_parent, n=3, seconds=300, pid_dir=str(tmp_path))
    assert _wait_until(lambda: len(_pids(tmp_path, "child")) >= 2, 60), "children did not start"
    run.abort("test says stop")
    run.wait(timeout=60)
    assert run.phase is flyte.Phase.ABORTED
    assert all(a.phase.terminal for a in run.actions.values())
    assert any(a.phase is flyte.Phase.ABORTED for a in run.actions.values() if a.parent == "a0")
    for pid in _pids(tmp_path, "child") + _pids(tmp_path, "parent"):
        assert _wait_until(lambda: not _alive(pid), 10), f"process {pid} survived the abort"


def test_memory_limit_produces_an_oom_failure(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(limits.hog, total_mb=600)
    with pytest.raises(ActionFailedError) as info:
        run.outputs()
    assert info.value.kind == "OOMKilled"
    assert "OOM" in info.value.message and "150Mi" in info.value.message


def test_logs_are_captured_per_attempt(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(basic.talker, lines=3)
    assert run.outputs() == "talked"
    lines = run.logs()
    assert "line 0 to stdout" in lines and "line 2 to stdout" in lines and "a warning to stderr" in lines
    cli = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "runs", "logs", run.name, "--config",
                          str(flyte_backend.client_yaml)], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert "line 1 to stdout" in cli.stdout and "a warning to stderr" in cli.stderr


def test_backend_cache_hits_and_overwrite(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    first = flyte.with_runcontext(mode="remote").run(cached.square, x=9, marker_dir=str(tmp_path))
    assert first.outputs() == 81 and not first.root.cache_hit
    second = flyte.with_runcontext(mode="remote").run(cached.square, x=9, marker_dir=str(tmp_path))
    assert second.outputs() == 81 and second.root.cache_hit
    assert len(list(tmp_path.glob("ran-9-*"))) == 1
    third = flyte.with_runcontext(mode="remote", overwrite_cache=True).run(cached.square, x=9, marker_dir=str(tmp_path))
    assert third.outputs() == 81 and not third.root.cache_hit
    assert len(list(tmp_path.glob("ran-9-*"))) == 2

    cfg = ["--config", str(flyte_backend.client_yaml)]
    listed = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "cache", "list", *cfg],
                            capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "cached.square" in listed.stdout
    cleared = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "cache", "clear", "--task",
                              "cached.square", *cfg], capture_output=True, text=True, timeout=60)
    assert cleared.returncode == 0 and "removed" in cleared.stdout
    fourth = flyte.with_runcontext(mode="remote").run(cached.square, x=9, marker_dir=str(tmp_path))
    assert fourth.outputs() == 81 and not fourth.root.cache_hit
    assert len(list(tmp_path.glob("ran-9-*"))) == 3


def test_runs_cli_lists_gets_and_aborts(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote", name="cli-visible").run(basic.fanout, n=3)
    assert run.outputs() == 6
    cfg = ["--config", str(flyte_backend.client_yaml)]
    out = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "runs", "list", *cfg],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "cli-visible" in out.stdout and "SUCCEEDED" in out.stdout
    got = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "runs", "get", "cli-visible", *cfg],
                         capture_output=True, text=True, timeout=60)
    assert got.returncode == 0 and got.stdout.count("basic.leaf") == 3
    slow_run = flyte.with_runcontext(mode="remote").run(slow.sleepy_parent, n=1, seconds=300, pid_dir=str(tmp_path))
    assert _wait_until(lambda: len(_pids(tmp_path, "child")) == 1, 60)
    aborted = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "runs", "abort", slow_run.name, *cfg],
                             capture_output=True, text=True, timeout=60)
    assert aborted.returncode == 0, aborted.stderr
    slow_run.wait(timeout=60)
    assert slow_run.phase is flyte.Phase.ABORTED
    missing = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "runs", "get", "no-such-run", *cfg],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def test_run_names_are_validated_and_unique(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    from flyte_jupyter.errors import BackendError

    with pytest.raises(BackendError) as bad:
        flyte.with_runcontext(mode="remote", name="Not A Valid Name").run(basic.leaf, x=1)
    assert bad.value.code == "INVALID_ARGUMENT" and "run name" in bad.value.message
    flyte.with_runcontext(mode="remote", name="only-once").run(basic.leaf, x=1).wait(60)
    with pytest.raises(BackendError) as dup:
        flyte.with_runcontext(mode="remote", name="only-once").run(basic.leaf, x=1)
    assert dup.value.code == "ALREADY_EXISTS" and "only-once" in dup.value.message



def test_following_logs_streams_until_the_action_ends(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(basic.ticker, n=6, delay=0.3)
    assert _wait_until(lambda: run.phase is flyte.Phase.RUNNING or run.done, 60)
    client = flyte_backend.client()

    async def follow() -> list[str]:
        return [line.text async for line in client.tail_logs(run.name, "a0", follow=True)]

    lines = asyncio.run(asyncio.wait_for(follow(), 60))
    assert [f"tick {i}" for i in range(6)] == [line for line in lines if line.startswith("tick")]
    assert run.outputs() == 6


def test_health_service_answers_without_a_token(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(flyte_backend.endpoint) as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=10)
    assert reply.status == health_pb2.HealthCheckResponse.SERVING


def test_a_retried_parent_finds_its_finished_children(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(failing.retried_parent, marker_dir=str(tmp_path))
    assert run.outputs() == 6
    assert run.root.attempts == 2
    assert len(list(tmp_path.glob("counted-1-*"))) == 1 and len(list(tmp_path.glob("counted-2-*"))) == 1
    children = [a for a in run.actions.values() if a.parent == "a0"]
    assert len(children) == 2 and all(a.attempts == 1 for a in children)


def test_an_action_queued_past_its_max_queued_time_times_out(backend_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    backend = backend_factory(extra_args=["--max-parallelism", "1"]).start()
    backend.use()
    try:
        busy = flyte.with_runcontext(mode="remote").run(slow.sleeper, i=0, seconds=3, pid_dir=str(tmp_path))
        assert _wait_until(lambda: busy.phase is flyte.Phase.RUNNING, 30)
        waiting = flyte.with_runcontext(mode="remote").run(slow.impatient)
        waiting.wait(timeout=60)
        assert waiting.phase is flyte.Phase.TIMED_OUT
        assert "max_queued_time" in waiting.root.error.message
        assert busy.outputs() == 0
    finally:
        flyte.init()


def test_map_groups_and_reports_in_remote_actions(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    from flows import mapped

    from flyte_jupyter._internal.runtime import storage as _storage

    run = flyte.with_runcontext(mode="remote").run(mapped.main, n=5)
    assert run.outputs() == [0, 1, 4, 9, 16]
    groups = {a.group for a in run.actions.values() if a.task == "mapped.sq"}
    assert len(groups) == 1 and next(iter(groups)).startswith("squares")
    detail = asyncio.run(flyte_backend.client().get_action(run.name, "a0"))
    report = _storage.get_bytes(_storage.join(detail.outputs_uri, "report.html")).decode()
    assert "<b>5 squares</b>" in report


def test_serialized_cache_runs_one_of_identical_concurrent_actions(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(cached.three_at_once, x=4, marker_dir=str(tmp_path))
    assert run.outputs() == [16, 16, 16]
    assert len(list(tmp_path.glob("slow-4-*"))) == 1
    children = [a for a in run.actions.values() if a.parent == "a0"]
    assert sorted(a.cache_hit for a in children) == [False, True, True]


def test_a_sync_parent_calls_children_directly_and_through_map(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(basic.sync_parent, n=4)
    assert run.outputs() == 2 * sum(range(1, 5))
    assert len([a for a in run.actions.values() if a.parent == "a0"]) == 8


def test_a_timed_out_attempt_is_retried_by_its_policy(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(slow.too_slow_twice, seconds=120, pid_dir=str(tmp_path))
    run.wait(timeout=90)
    assert run.phase is flyte.Phase.TIMED_OUT and run.root.attempts == 2
    pids = _pids(tmp_path, "twice")
    assert len(pids) == 2
    assert _wait_until(lambda: not any(_alive(p) for p in pids), 10)

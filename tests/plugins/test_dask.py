"""Dask tasks on a real backend: a scheduler and workers started for the action, a connected
Client, and no cluster process left when the action ends, is aborted, or the backend is killed;
a worker killed mid-task makes the attempt lost, retried by the task's policy."""

from __future__ import annotations

import importlib.util
import os
import signal
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("distributed")

from plugin_flows import daskflows  # noqa: E402

import flyte_jupyter as flyte  # noqa: E402


def _cluster_pids(backend_pid: int | None = None) -> dict[int, str]:
    """pid -> role of every Dask scheduler/worker process (of this backend, when given)."""
    out: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
            stat = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if stat[0] == "Z":
            continue
        text = b" ".join(cmd).decode(errors="replace")
        for role in ("dask_scheduler", "dask_worker"):
            if f"distributed.cli.{role}" in text and (backend_pid is None or int(stat[1]) == backend_pid):
                out[int(entry)] = role
    return out


def _wait(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def test_a_dask_task_gets_a_connected_client_and_its_cluster_ends_with_it(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(daskflows.total, n=1000)
    out = run.outputs()
    assert out["sum"] == sum(range(1000)) and out["workers"] == 2
    assert out["address"].startswith("tcp://127.0.0.1:")
    assert run.actions["a0"].phase is flyte.Phase.SUCCEEDED
    assert _wait(lambda: not _cluster_pids(flyte_backend.proc.pid), 10), _cluster_pids()
    assert flyte.with_runcontext(mode="remote").run(daskflows.sync_total, n=10).outputs() == 45


def test_a_worker_killed_mid_task_makes_the_attempt_retry(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "attempt1"
    remote = flyte.with_runcontext(mode="remote").run(daskflows.long_on_first_attempt, marker=str(marker))
    assert _wait(marker.exists, 60)
    workers = [pid for pid, role in _cluster_pids(flyte_backend.proc.pid).items() if role == "dask_worker"]
    assert len(workers) == 2
    os.kill(workers[0], signal.SIGKILL)
    assert remote.outputs() == 2  # attempt 2 ran on a fresh cluster and succeeded
    root = remote.actions["a0"]
    assert root.phase is flyte.Phase.SUCCEEDED and root.attempts == 2
    assert _wait(lambda: not _cluster_pids(flyte_backend.proc.pid), 10)


def test_an_aborted_dask_action_leaves_no_cluster(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "running"
    remote = flyte.with_runcontext(mode="remote").run(daskflows.sleeper, marker=str(marker))
    assert _wait(marker.exists, 60)
    task_pid = int(marker.read_text())
    assert len(_cluster_pids(flyte_backend.proc.pid)) == 3
    if importlib.util.find_spec("bokeh") is not None:  # the scheduler serves a dashboard: the row links it
        from flyte_jupyter.kernel._links import links_of, type_tag_html

        info = remote.actions["a0"]
        assert info.task_type == "dask" and ">dask</span>" in type_tag_html(info)
        url = links_of(info)["Dask dashboard"]
        assert url in type_tag_html(info)
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200
    remote.abort()
    remote.wait()
    assert remote.actions["a0"].phase is flyte.Phase.ABORTED
    assert _wait(lambda: not _cluster_pids(flyte_backend.proc.pid), 10)
    assert _wait(lambda: not Path(f"/proc/{task_pid}").exists() or "Z" in Path(f"/proc/{task_pid}/stat").read_text().rsplit(")", 1)[1][:3], 10)


def test_a_timed_out_dask_action_leaves_no_cluster(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    remote = flyte.with_runcontext(mode="remote").run(daskflows.too_slow)
    with pytest.raises(flyte.errors.ActionFailedError):
        remote.outputs()
    assert remote.actions["a0"].phase is flyte.Phase.TIMED_OUT
    assert _wait(lambda: not _cluster_pids(flyte_backend.proc.pid), 10)


def test_a_sigkilled_backend_takes_its_dask_clusters_with_it(backend_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """No cluster process outlives the backend; after the restart the attempt whose cluster died is
    stopped, counted as lost and retried by the task's policy on a fresh cluster."""
    backend = backend_factory().start()
    backend.use()
    try:
        marker = tmp_path / "attempt1"
        remote = flyte.with_runcontext(mode="remote").run(daskflows.long_on_first_attempt, marker=str(marker))
        assert _wait(marker.exists, 60)
        task_pid = int(marker.read_text())
        cluster = _cluster_pids(backend.proc.pid)
        assert len(cluster) == 3
        backend.kill()
        assert _wait(lambda: not any(Path(f"/proc/{pid}").exists() for pid in cluster), 10), cluster
        backend.start()
        backend.use()
        from flyte_jupyter.remote import Run

        run = None
        deadline = time.monotonic() + 20
        while run is None:  # a channel that saw the old backend die may refuse a moment longer
            try:
                run = Run.get(remote.name)
            except flyte.errors.BackendError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        assert run.outputs() == 2
        assert run.actions["a0"].attempts == 2
        assert _wait(lambda: not Path(f"/proc/{task_pid}/cmdline").exists()
                     or Path(f"/proc/{task_pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z", 10)
        assert _wait(lambda: not _cluster_pids(backend.proc.pid), 10)
    finally:
        backend.kill_actions()
        flyte.init()

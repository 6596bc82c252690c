"""Crash recovery (SIGKILL of the backend mid-run) and resumable watches."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from flows import basic, slow

import flyte_jupyter as flyte
from flyte_jupyter._internal.wire.proto import common_pb2 as pb

_TERMINAL = {pb.PHASE_SUCCEEDED, pb.PHASE_FAILED, pb.PHASE_ABORTED, pb.PHASE_TIMED_OUT}


def _wait_until(predicate, timeout: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


class _Recorder:
    """Watches a run in a thread, keeping every (action, seq, phase) it is told about."""

    def __init__(self, client, run: str) -> None:  # type: ignore[no-untyped-def]
        self.client = client
        self.run = run
        self.seen: list[tuple[str, int, int]] = []
        self.synced = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._watch()), daemon=True)
        self.thread.start()

    async def _watch(self) -> None:
        async def consume() -> None:
            async for batch in self.client.watch_raw(self.run, reconnect_timeout=60):
                self.synced += batch.synced
                self.seen.extend((a.id.name, a.seq, a.phase) for a in batch.actions)
                latest = {}
                for name, _, phase in self.seen:
                    latest[name] = phase
                if latest.get("a0") in _TERMINAL and all(p in _TERMINAL for p in latest.values()):
                    return

        await asyncio.wait_for(consume(), 180)


def test_sigkill_during_a_run_then_restart_ends_succeeded_with_nothing_lost(backend_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    backend = backend_factory().start()
    backend.use()
    pid_dir = tmp_path / "pids"
    run = flyte.with_runcontext(mode="remote").run(slow.waves, waves=3, width=3, seconds=1.5, pid_dir=str(pid_dir))
    recorder = _Recorder(backend.client(), run.name)
    assert _wait_until(lambda: len(list(pid_dir.glob("steady*"))) >= 2), backend.log_text()[-2000:]

    backend.kill()
    time.sleep(0.5)
    backend.start()

    run.wait(timeout=180)
    assert run.phase is flyte.Phase.SUCCEEDED, [(a.name, a.phase, a.error) for a in run.actions.values()]
    assert run.outputs() == sum(i * 10 for i in range(9))
    children = [a for a in run.actions.values() if a.parent == "a0"]
    assert len(children) == 9, "an action was lost"
    assert all(a.phase is flyte.Phase.SUCCEEDED for a in children)
    summary, actions = asyncio.run(backend.client().get_run(run.name))
    details = asyncio.run(_details(backend.client(), run.name, [a.name for a in actions]))
    for name, detail in details.items():
        assert 1 <= detail.info.attempts <= detail.max_attempts, f"{name} ran past its retry policy"

    recorder.thread.join(60)
    seqs = [seq for _, seq, _ in recorder.seen]
    assert seqs == sorted(set(seqs)), "a watcher saw a change twice or out of order across the restart"
    final = {}
    for name, _, phase in recorder.seen:
        final[name] = phase
    assert set(final) == {a.name for a in actions} and all(p == pb.PHASE_SUCCEEDED for p in final.values())
    assert recorder.synced >= 1


async def _details(client, run: str, names: list[str]):  # type: ignore[no-untyped-def]
    return {name: await client.get_action(run, name) for name in names}


def test_watch_snapshot_synced_marker_and_resume_from_a_change_number(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(basic.fanout, n=5)
    assert run.outputs() == 15
    client = flyte_backend.client()

    async def collect(since: int) -> tuple[list, bool]:
        got, synced = [], False
        async for batch in client.watch_raw(run.name, since_seq=since):
            got.extend(batch.actions)
            if batch.synced:
                synced = True
                break
        return got, synced

    everything, synced = asyncio.run(collect(0))
    assert synced and len(everything) == 6
    ordered = sorted(a.seq for a in everything)
    middle = ordered[2]
    rest, synced = asyncio.run(collect(middle))
    assert synced and sorted(a.seq for a in rest) == [s for s in ordered if s > middle]

    async def events() -> list:
        out = []
        async for item in client.watch_run(run.name):
            out.append(item)
            if repr(item) == "SYNCED":
                break
        return out

    items = asyncio.run(events())
    assert repr(items[-1]) == "SYNCED" and len(items) == 7
    assert {i.action for i in items[:-1]} == set(run.actions)


def test_a_killed_fork_server_loses_no_action(flyte_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import os
    import signal

    import psutil

    pid_dir = tmp_path / "pids"
    run = flyte.with_runcontext(mode="remote").run(slow.sleepy_parent, n=3, seconds=1.5, pid_dir=str(pid_dir))
    assert _wait_until(lambda: len(list(pid_dir.glob("child*"))) >= 2)
    zygotes = [p for p in psutil.Process(flyte_backend.proc.pid).children()
               if "plugins.local.zygote" in " ".join(p.cmdline())]
    assert zygotes, "the backend has no fork server"
    for z in zygotes:
        os.kill(z.pid, signal.SIGKILL)
    assert run.outputs() == [0, 1, 2]
    again = flyte.with_runcontext(mode="remote").run(basic.fanout, n=3)
    assert again.outputs() == 6  # a new fork server took over


def test_watch_runs_reports_new_runs_and_their_ends(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    client = flyte_backend.client()
    seen: list[tuple[str, str]] = []
    started = threading.Event()

    async def watch() -> None:
        async def consume() -> None:
            stream = client.watch_runs()
            started.set()
            async for summary in stream:
                seen.append((summary.name, summary.phase.value))
                if summary.name == "watched-run" and summary.phase.terminal:
                    return

        await asyncio.wait_for(consume(), 60)

    thread = threading.Thread(target=lambda: asyncio.run(watch()), daemon=True)
    thread.start()
    started.wait(10)
    time.sleep(0.5)  # the stream is open before the run starts
    flyte.with_runcontext(mode="remote", name="watched-run").run(basic.fanout, n=2).wait(60)
    thread.join(60)
    phases = [phase for name, phase in seen if name == "watched-run"]
    assert phases and phases[-1] == "SUCCEEDED"


# -- results that come in while the backend is away; processes that end with it ------------------
# (children from tests/faults/flows/late.py note their starts and ends in LOG_DIR/starts.log)


def _alive(pid: int) -> bool:
    from flyte_jupyter.backend.plugins.local.procfs import start_time

    return start_time(pid) is not None  # a zombie is gone


def _bodies(log_dir: Path):  # type: ignore[no-untyped-def]
    from faults.harness import Starts

    return Starts.read(log_dir)


def _children_started(log_dir: Path, n: int) -> bool:
    return sum(1 for name in _bodies(log_dir).starts if name != "a0") >= n


def _children_ended_and_gone(log_dir: Path, n: int) -> bool:
    """Every child's body ran to its end and its process is gone (its result is in storage)."""
    starts = _bodies(log_dir)
    names = [f"c{i}" for i in range(n)]
    return all(starts.ends.get(name) for name in names) and not any(
        _alive(pid) for name in names for pid, _ in starts.starts.get(name, []))


def _child_pids(log_dir: Path) -> list[int]:
    return [pid for name, began in _bodies(log_dir).starts.items() if name != "a0" for pid, _ in began]


def _started_once(log_dir: Path, n: int) -> None:
    starts = _bodies(log_dir).starts
    assert {name: len(v) for name, v in starts.items()} == {"a0": 1, **{f"c{i}": 1 for i in range(n)}}, starts


@pytest.mark.parametrize("retries", [False, True], ids=["no-retries", "retries"])
def test_a_child_that_ends_while_the_backend_is_down_is_collected_not_run_again(backend_factory, tmp_path: Path, retries: bool) -> None:  # type: ignore[no-untyped-def]
    from faults.flows import late

    backend = backend_factory(extra_args=["--max-parallelism", "8"]).start()
    backend.use()
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    run = flyte.with_runcontext(mode="remote").run(late.late_parent, n=3, seconds=1.5, log_dir=str(log_dir), retries=retries)
    assert _wait_until(lambda: _children_started(log_dir, 3)), backend.log_text()[-2000:]
    backend.kill()
    assert _wait_until(lambda: _children_ended_and_gone(log_dir, 3), 30)  # outputs.pb written, nobody told
    backend.start()
    run.wait(timeout=60)
    assert run.phase is flyte.Phase.SUCCEEDED, [(a.name, a.phase, a.error) for a in run.actions.values()]
    assert run.outputs() == [0, 1, 2]
    _started_once(log_dir, 3)


def test_a_child_that_fails_while_the_backend_is_down_ends_with_its_own_error(backend_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from faults.flows import late

    backend = backend_factory(extra_args=["--max-parallelism", "8"]).start()
    backend.use()
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    run = flyte.with_runcontext(mode="remote").run(late.late_parent, n=3, seconds=1.5, log_dir=str(log_dir), fail_index=1)
    assert _wait_until(lambda: _children_started(log_dir, 3)), backend.log_text()[-2000:]
    backend.kill()
    assert _wait_until(lambda: _children_ended_and_gone(log_dir, 3), 30)  # error.pb written
    backend.start()
    run.wait(timeout=60)
    assert run.phase is flyte.Phase.FAILED
    children = sorted((a for a in run.actions.values() if a.parent == "a0"), key=lambda a: a.phase.value)
    failed = [a for a in children if a.phase is flyte.Phase.FAILED]
    assert len(failed) == 1 and failed[0].error is not None, [(a.name, a.phase, a.error) for a in children]
    assert failed[0].error.kind == "ValueError" and "on purpose" in failed[0].error.message, failed[0].error
    assert [a.phase for a in children if a not in failed] == [flyte.Phase.SUCCEEDED] * 2
    _started_once(log_dir, 3)


@pytest.mark.parametrize("ended", [False, True], ids=["still-running", "ended"])
def test_an_attempt_started_just_before_a_crash_is_found_not_started_twice(backend_factory, tmp_path: Path, ended: bool) -> None:  # type: ignore[no-untyped-def]
    """The crash came after the children's processes started but before their attempts were
    recorded (simulated: their records are put back to never-started): the restarted backend
    finds each attempt by its log file, reattaches to it or collects its result."""
    from faults.flows import late

    backend = backend_factory(extra_args=["--max-parallelism", "8"]).start()
    backend.use()
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    run = flyte.with_runcontext(mode="remote").run(late.late_parent, n=2, seconds=3.0 if not ended else 1.0, log_dir=str(log_dir))
    assert _wait_until(lambda: _children_started(log_dir, 2)), backend.log_text()[-2000:]
    backend.kill()
    if ended:
        assert _wait_until(lambda: _children_ended_and_gone(log_dir, 2), 30)
    changed = backend.execute("UPDATE actions SET phase=?, attempt=0, handle='', started_at=0 WHERE parent='a0'",
                              (pb.PHASE_QUEUED,))
    assert changed == 2
    backend.start()
    run.wait(timeout=60)
    assert run.phase is flyte.Phase.SUCCEEDED, [(a.name, a.phase, a.error) for a in run.actions.values()]
    assert run.outputs() == [0, 1]
    _started_once(log_dir, 2)


def test_the_backends_helpers_end_with_it_and_its_attempts_live_on(backend_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL: the fork server, its templates and idle reusable workers die with the backend;
    the running attempts live on, are adopted by the next start, which has one fork server; a
    normal stop after the run leaves no process of the data dir at all."""
    from faults.flows import late
    from faults.harness import infrastructure_of, processes_of
    from flows import warm

    backend = backend_factory(extra_args=["--max-parallelism", "8"]).start()
    backend.use()
    assert len(flyte.with_runcontext(mode="remote").run(warm.one_by_one, n=3).outputs()) == 3  # a warm worker
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    run = flyte.with_runcontext(mode="remote").run(late.late_parent, n=3, seconds=3.0, log_dir=str(log_dir))
    assert _wait_until(lambda: _children_started(log_dir, 3)), backend.log_text()[-2000:]
    helpers = infrastructure_of(backend.data_dir)
    assert any("plugins.local.zygote" in p.cmdline and not p.leader for p in helpers), [p.describe() for p in helpers]
    assert any(p.leader for p in helpers), f"no idle reusable worker: {[p.describe() for p in helpers]}"
    attempts = _child_pids(log_dir)
    backend.kill()
    assert all(_alive(pid) for pid in attempts), "an attempt died with the backend"
    assert _wait_until(lambda: not infrastructure_of(backend.data_dir), 5), \
        [p.describe() for p in infrastructure_of(backend.data_dir)]
    backend.start()
    run.wait(timeout=60)
    assert run.phase is flyte.Phase.SUCCEEDED and run.outputs() == [0, 1, 2]
    _started_once(log_dir, 3)
    assert backend.proc is not None
    servers = [p for p in infrastructure_of(backend.data_dir) if p.ppid == backend.proc.pid]
    assert len(servers) <= 1, [p.describe() for p in servers]
    backend.stop()
    assert _wait_until(lambda: not processes_of(backend.data_dir), 5), [p.describe() for p in processes_of(backend.data_dir)]


def test_a_normal_stop_leaves_only_running_attempts_which_the_next_start_adopts(backend_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from faults.flows import late
    from faults.harness import infrastructure_of, processes_of

    backend = backend_factory(extra_args=["--max-parallelism", "8"]).start()
    backend.use()
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    run = flyte.with_runcontext(mode="remote").run(late.late_parent, n=2, seconds=2.5, log_dir=str(log_dir))
    assert _wait_until(lambda: _children_started(log_dir, 2)), backend.log_text()[-2000:]
    backend.stop()
    left = processes_of(backend.data_dir)
    running = set(_child_pids(log_dir)) | {pid for pid, _ in _bodies(log_dir).starts["a0"]}
    assert not infrastructure_of(backend.data_dir), [p.describe() for p in left]
    assert {p.pid for p in left} <= running, [p.describe() for p in left]
    backend.start()
    run.wait(timeout=60)
    assert run.phase is flyte.Phase.SUCCEEDED and run.outputs() == [0, 1]
    _started_once(log_dir, 2)
    backend.stop()
    assert _wait_until(lambda: not processes_of(backend.data_dir), 5), [p.describe() for p in processes_of(backend.data_dir)]


def test_attempts_of_a_run_that_ended_are_killed_by_the_next_start(backend_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A run recorded as ended while its actions' processes still ran (a crash in the middle of
    ending it, by an older backend): the next start kills them."""
    from faults.flows import late

    backend = backend_factory().start()
    backend.use()
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    flyte.with_runcontext(mode="remote").run(late.late_parent, n=1, seconds=60, log_dir=str(log_dir))
    assert _wait_until(lambda: _children_started(log_dir, 1)), backend.log_text()[-2000:]
    pids = [pid for began in _bodies(log_dir).starts.values() for pid, _ in began]
    backend.kill()
    backend.execute("UPDATE runs SET done=1")
    backend.execute("UPDATE actions SET phase=? WHERE name='a0'", (pb.PHASE_ABORTED,))
    assert all(_alive(pid) for pid in pids)
    backend.start()
    assert _wait_until(lambda: not any(_alive(pid) for pid in pids), 10), "attempts of an ended run still run"

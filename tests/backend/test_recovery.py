"""Crash recovery (SIGKILL of the backend mid-run) and resumable watches."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

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

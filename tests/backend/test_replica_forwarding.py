"""An admin client may call any replica of a backend on one PostgreSQL: a client connected to
replica B watches, tails, reads and aborts runs replica A drives (B passes the calls and streams on
to A), sees every change exactly once and in order, and when A is SIGKILLed mid-watch its watch
resumes on B (which takes the run over) without a change missed or repeated. Two replicas creating
one run name at once: one run, the other caller gets ALREADY_EXISTS naming it."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import grpc
import grpc.aio
import pytest
from flows import gated, slow

import flyte_jupyter as flyte
from flyte_jupyter._internal.client.grpc_client import BackendClient
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb
from flyte_jupyter._internal.wire.proto import state_service_pb2 as state_pb
from flyte_jupyter._internal.wire.proto import state_service_pb2_grpc as state_grpc
from flyte_jupyter.errors import BackendError

pytestmark = pytest.mark.postgres

PROJECT, DOMAIN = "default", "development"


@pytest.fixture
def replicas(postgres_server, tmp_path: Path) -> Iterator[tuple[Any, Any]]:  # type: ignore[no-untyped-def]
    """Replicas A and B on one fresh database, sharing one storage root and admin token; actions
    reach them through one address (a proxy to the first replica up, as a Service would)."""
    from _replica_pair import replica_pair

    with replica_pair(postgres_server, tmp_path) as (a, b, _proxy):
        yield a, b


def _run_on(a: Any, task: Any, **inputs: Any) -> Any:
    a.use()  # the run is created on A, so A drives it
    return flyte.with_runcontext(mode="remote").run(task, **inputs)


class RawWatch:
    """Watch one run through one replica at the wire level, in a thread of its own: every action
    message as it came (no client-side filtering), reconnecting from the last change number on
    UNAVAILABLE as the SDK does. `until_root_ends` stops it once a0 is terminal."""

    def __init__(self, endpoint: str, token: str, run: str) -> None:
        self.endpoint, self.token, self.run = endpoint, token, run
        self.got: list[tuple[str, int, int]] = []  # (action, seq, phase) in arrival order
        self.resumed_from: list[int] = []  # since_seq of every reconnect
        self.synced = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)
        self._thread.start()

    async def _main(self) -> None:
        seq = 0
        channel = grpc.aio.insecure_channel(self.endpoint)
        stub = state_grpc.StateServiceStub(channel)
        deadline = time.monotonic() + 150
        try:
            while time.monotonic() < deadline:
                req = state_pb.WatchRequest(run=pb.ActionIdentifier(project=PROJECT, domain=DOMAIN, run=self.run),
                                            since_seq=seq)
                try:
                    async for msg in stub.Watch(req, metadata=(("authorization", f"Bearer {self.token}"),)):
                        for action in msg.actions:
                            self.got.append((action.id.name, action.seq, action.phase))
                            if action.id.name == "a0" and action.phase >= pb.PHASE_SUCCEEDED:
                                return
                        seq = max([seq, msg.seq, *(a.seq for a in msg.actions)])
                        if msg.synced:
                            self.synced.set()
                except grpc.aio.AioRpcError as err:
                    if err.code() != grpc.StatusCode.UNAVAILABLE:
                        raise
                    self.resumed_from.append(seq)
                    await asyncio.sleep(0.2)
            raise TimeoutError("the watch never saw the run end")
        except BaseException as exc:  # noqa: BLE001 - reported by join()
            self.error = exc
        finally:
            await channel.close()

    def join(self, timeout: float = 160) -> list[tuple[str, int, int]]:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the watch did not end"
        if self.error is not None:
            raise self.error
        return self.got


def _exactly_once_in_order(got: list[tuple[str, int, int]], final: dict[str, tuple[int, int]]) -> None:
    """Change numbers strictly increase (nothing repeated, nothing out of order) and each action's
    last change seen is its final committed state (nothing missed)."""
    seqs = [seq for _, seq, _ in got]
    assert seqs == sorted(set(seqs)), f"a change came twice or out of order: {got}"
    last = {name: (seq, phase) for name, seq, phase in got}
    assert last == final, f"seen {last}, committed {final}"


def _final(client: BackendClient, run: str) -> dict[str, tuple[int, int]]:
    resp = asyncio.run(client._call("run", "GetRun", run_pb.GetRunRequest(
        id=pb.ActionIdentifier(project=PROJECT, domain=DOMAIN, run=run, name="a0"))))
    return {a.id.name: (a.seq, a.phase) for a in resp.actions}


def _tail(client: BackendClient, run: str, follow: bool) -> list[str]:
    async def go() -> list[str]:
        return [line.text async for line in client.tail_logs(run, "a0", follow=follow)]

    return asyncio.run(go())


@pytest.mark.timeout(240)
def test_a_client_of_replica_b_watches_tails_and_aborts_runs_replica_a_drives(replicas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    cb = BackendClient(b.endpoint, b.token)
    go = tmp_path / "go"
    run = _run_on(a, gated.gated_fan, n=6, seconds=0.3, go_file=str(go))
    via_b = RawWatch(b.endpoint, b.token, run.name)
    via_a = RawWatch(a.endpoint, a.token, run.name)
    assert via_b.synced.wait(30) and via_a.synced.wait(30), (via_b.error, via_a.error, b.log_text()[-2000:])
    deadline = time.monotonic() + 30
    while not any(name == "a0" and phase == pb.PHASE_RUNNING for name, _, phase in via_b.got):
        assert time.monotonic() < deadline, via_b.got
        time.sleep(0.05)
    tailed: list[list[str]] = []
    tail = threading.Thread(target=lambda: tailed.append(_tail(cb, run.name, follow=True)), daemon=True)
    tail.start()
    time.sleep(0.5)
    go.write_text("go")
    seen_b, seen_a = via_b.join(), via_a.join()
    tail.join(60)
    # B passed A's stream on: the same changes as A's own watch, once each and in order.
    final = _final(cb, run.name)  # GetRun through B (forwarded) reads what A committed
    assert final == _final(a.client(), run.name)
    _exactly_once_in_order(seen_b, final)
    assert seen_b[-len(seen_a):] == seen_a[-len(seen_b):] or seen_b == seen_a, (seen_b, seen_a)
    assert len(final) == 7 and all(phase == pb.PHASE_SUCCEEDED for _, phase in final.values())
    # The log followed through B is the log A has, whole and in order.
    assert tailed and tailed[0] == _tail(a.client(), run.name, follow=False)
    assert _tail(cb, run.name, follow=False) == tailed[0]  # after the end too: A keeps the logs
    assert tailed[0][-5:] == [f"going {j}" for j in range(5)] and tailed[0][0] == "waiting 0"
    assert "taking over" not in a.log_text() + b.log_text()  # nobody died: A drove it all along

    # Abort through B: A aborts the run and ends its running children.
    pid_dir = tmp_path / "pids"
    long_run = _run_on(a, slow.sleepy_parent, n=2, seconds=120.0, pid_dir=str(pid_dir))
    deadline = time.monotonic() + 60
    while len(list(pid_dir.glob("child*-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    children = [int(p.name.rsplit("-", 1)[1]) for p in pid_dir.glob("child*-*")]
    assert len(children) == 2
    asyncio.run(cb.abort_run(long_run.name, "stop it from B"))
    long_run.wait(timeout=60)
    assert long_run.phase is flyte.Phase.ABORTED
    phases = _final(a.client(), long_run.name)
    assert all(phase == pb.PHASE_ABORTED for _, phase in phases.values()), phases
    deadline = time.monotonic() + 20
    while any(_alive(pid) for pid in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in children), "an aborted child still runs"

    # WatchRuns on B sees a run A creates and drives (read from the database).
    runs_seen: list[tuple[str, Any]] = []
    names: list[str] = []

    async def watch_runs() -> None:
        async for summary in cb.watch_runs():
            runs_seen.append((summary.name, summary.phase))
            if names and summary.name == names[0] and summary.phase.terminal:
                return

    watcher = threading.Thread(target=lambda: asyncio.run(asyncio.wait_for(watch_runs(), 60)), daemon=True)
    watcher.start()
    time.sleep(1.5)  # the watch's first look at the database is done
    quick = _run_on(a, slow.sleepy_parent, n=1, seconds=0.2, pid_dir=str(tmp_path / "q"))
    names.append(quick.name)
    watcher.join(70)
    assert not watcher.is_alive(), f"WatchRuns through B never saw {quick.name} end: {runs_seen}"
    assert (quick.name, flyte.Phase.SUCCEEDED) in runs_seen


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


@pytest.mark.timeout(240)
def test_a_watch_through_b_resumes_when_the_owner_a_is_killed(replicas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    pid_dir = tmp_path / "pids"
    run = _run_on(a, slow.sleepy_parent, n=6, seconds=4.0, pid_dir=str(pid_dir))
    watch = RawWatch(b.endpoint, b.token, run.name)
    assert watch.synced.wait(30), (watch.error, b.log_text()[-2000:])
    deadline = time.monotonic() + 60
    while len(list(pid_dir.glob("child*-*"))) < 6 and time.monotonic() < deadline:
        time.sleep(0.05)
    before = len(watch.got)
    os.kill(a.proc.pid, signal.SIGKILL)  # mid-watch, the children still sleeping
    a.proc.wait(10)
    got = watch.join()
    assert watch.resumed_from, "the watch was never cut: it cannot have gone through A"
    assert len(got) > before
    final = _final(BackendClient(b.endpoint, b.token), run.name)
    _exactly_once_in_order(got, final)
    assert all(phase == pb.PHASE_SUCCEEDED for _, phase in final.values()), final
    assert "taking over 1 run(s)" in b.log_text(), b.log_text()[-3000:]
    started = [p.name.rsplit("-", 1)[0] for p in pid_dir.glob("child*-*")]
    assert sorted(started) == sorted(f"child{i}" for i in range(6)), "a child ran twice or never"


@pytest.mark.timeout(120)
def test_two_replicas_creating_one_run_name_make_one_run_and_one_already_exists(replicas, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    a, b = replicas
    # A run name whose lease another replica holds (it is creating the run right now): refused
    # with ALREADY_EXISTS naming the run, nothing stored.
    b.execute("INSERT INTO run_leases (project, domain, run, owner, endpoint, expires_at) VALUES "
              "(?, ?, 'taken', 'another-replica', '127.0.0.1:1', extract(epoch from now()) + 3600)",
              (PROJECT, DOMAIN))
    b.use()
    with pytest.raises(BackendError) as refused:
        flyte.with_runcontext(mode="remote", name="taken").run(slow.sleeper, i=1, seconds=0.0,
                                                               pid_dir=str(tmp_path / "p"))
    assert refused.value.code == "ALREADY_EXISTS", refused.value
    assert "'taken'" in str(refused.value) and "another backend replica" in str(refused.value)
    assert b.execute("SELECT 1 FROM runs WHERE name='taken'") == 0

    # The same names created on both replicas at once: one run each, the loser told so clearly.
    seed = flyte.with_runcontext(mode="remote").run(slow.sleeper, i=1, seconds=0.0, pid_dir=str(tmp_path / "p"))
    clients = [BackendClient(a.endpoint, a.token), BackendClient(b.endpoint, b.token)]
    _, spec, inputs = asyncio.run(clients[1].get_action_spec(seed.name, with_inputs=True))

    async def race(name: str) -> list[str]:
        async def create(client: BackendClient) -> str:
            try:
                await client.create_run(spec, inputs=inputs, run_name=name)
                return "created"
            except BackendError as exc:
                assert name in str(exc), exc
                return exc.code

        return sorted(await asyncio.gather(*(create(c) for c in clients)))

    for n in range(8):
        assert asyncio.run(race(f"race-{n}")) == ["ALREADY_EXISTS", "created"]

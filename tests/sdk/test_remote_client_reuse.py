"""Remote runs from one process share one backend loop and one channel (issue 15's trivial run):
many runs open one connection and no thread of their own, a `flyte.init` that changes only the
project opens none, one that changes the endpoint takes effect, a dead backend still gives the
clear error, and one started again on its port is reached by the next call."""

from __future__ import annotations

import asyncio
import threading
import time

import grpc.aio
import psutil
import pytest

import flyte_jupyter as flyte
from flyte_jupyter.errors import BackendError

env = flyte.TaskEnvironment(name="client_reuse")


@env.task
async def add_one(x: int) -> int:
    return x + 1


@env.task
async def add_all(n: int) -> int:
    return sum(await asyncio.gather(*[add_one.aio(i) for i in range(n)]))


def _thread_switches() -> int:
    """How often this thread has blocked (a wait, a lock, the GIL) since it started."""
    with open(f"/proc/self/task/{threading.get_native_id()}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("voluntary_ctxt_switches"))


def _connections_to(port: int) -> int:
    """TCP connections this process holds open to the backend's port (what the backend sees)."""
    return sum(1 for c in psutil.Process().net_connections(kind="tcp")
               if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED)


@pytest.fixture
def opened_channels(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every gRPC channel the SDK opens from now on, by target."""
    opened: list[str] = []
    real = grpc.aio.insecure_channel

    def counting(target: str, *args, **kwargs):
        opened.append(target)
        return real(target, *args, **kwargs)

    monkeypatch.setattr(grpc.aio, "insecure_channel", counting)
    return opened


def test_many_runs_share_one_channel_and_start_no_threads(flyte_backend, opened_channels, monkeypatch):
    assert flyte.run(add_one, x=0).outputs() == 1  # the first run opens the channel and its loop
    started: list[str] = []
    real_start = threading.Thread.start

    def counting_start(self: threading.Thread) -> None:
        started.append(self.name)
        real_start(self)

    monkeypatch.setattr(threading.Thread, "start", counting_start)
    for x in range(1, 6):
        assert flyte.run(add_one, x=x).outputs() == x + 1
    assert len(opened_channels) <= 1, opened_channels  # one (made by the first run, or earlier in this process)
    assert _connections_to(flyte_backend.port) == 1
    assert started == []  # no event loop, executor or follower thread of a run's own


def test_init_with_another_project_keeps_the_channel(flyte_backend, opened_channels):
    assert flyte.run(add_one, x=1).outputs() == 2
    flyte.init(endpoint=flyte_backend.endpoint, api_key=flyte_backend.token, insecure=True, project="other")
    run = flyte.run(add_one, x=2)
    assert run.outputs() == 3 and run.project == "other"
    assert len(opened_channels) <= 1, opened_channels
    assert _connections_to(flyte_backend.port) == 1


def test_init_switching_endpoints_takes_effect(flyte_backend, backend_factory, opened_channels):
    assert flyte.run(add_one, x=1).outputs() == 2
    with backend_factory() as other:
        other.use()
        run = flyte.run(add_one, x=5)
        assert run.outputs() == 6
        assert other.endpoint in run.url and flyte_backend.endpoint not in run.url
        assert other.client_values()["endpoint"] in opened_channels
    # that backend is gone: the next run says where it looked and how to start one
    with pytest.raises(BackendError, match="cannot reach the flyte-jupyter backend at .*backend start"):
        flyte.run(add_one, x=7)
    flyte_backend.use()
    assert flyte.run(add_one, x=8).outputs() == 9  # and the first backend still answers over its channel


def test_a_backend_started_again_on_its_port_answers_the_next_run(backend_factory):
    """grpc waits longer after each failed connect (1 s, 1.6 s, 2.6 s, ...) and fails every call
    while it waits: without a new channel, a run submitted right after `backend start` would be
    refused for up to that long."""
    backend = backend_factory()
    with backend:
        backend.use()
        assert flyte.run(add_one, x=1).outputs() == 2
        backend.kill()
        down_until = time.monotonic() + 6  # a few failed connects: the channel's wait is now seconds
        while time.monotonic() < down_until:
            with pytest.raises(BackendError, match="cannot reach the flyte-jupyter backend"):
                flyte.run(add_one, x=2)
            time.sleep(0.5)
        backend.start()
        assert flyte.run(add_one, x=3).outputs() == 4  # at once: no sleep, no retry


def test_waiting_for_a_fan_out_sleeps_through_its_childrens_changes(flyte_backend) -> None:
    """`outputs()` waits for the root action: the 3 changes of each of 100 children reach the
    run's state without waking the waiting thread each time (a thread switch per change was
    ~0.1 ms of the caller's CPU, a kernel's when the caller is a notebook)."""
    flyte.run(add_one, x=0).outputs()  # the channel and the backend loop exist
    run = flyte.run(add_all, n=100)
    before = _thread_switches()
    assert run.outputs() == sum(range(1, 101))
    woken = _thread_switches() - before
    assert len(run.actions) == 101 and all(a.phase.terminal for a in run.actions.values())
    # Woken once per change it was 385; the GIL's handoffs alone block it a few dozen times, more
    # on a loaded machine (64 once in CI): a margin below one wake-up per change, not a tight count.
    assert woken < 120, f"the waiting thread woke {woken} times for 300 changes of children"

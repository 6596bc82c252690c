"""A warm worker's nested calls go over its link to the backend (no gRPC), with the authority of
the actions it runs and no more; a broken link falls back to gRPC, a forked parent's too
(`test_forked_link.py` has the rest of a forked attempt's link)."""

from __future__ import annotations

import asyncio
import base64
import json
import socket
import time
from pathlib import Path
from typing import Any, Callable

import pytest
from flows import linked

import flyte_jupyter as flyte
from flyte_jupyter._internal.client.grpc_client import BackendClient
from flyte_jupyter._internal.controllers.remote.controller import _Batcher
from flyte_jupyter._internal.controllers.remote.link import Link, LinkClosed
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb


def _in_a_worker(run: Callable[[], Any], ran_there: Callable[[Any], bool]) -> Any:
    """The outputs of the first of up to 20 runs whose action ran in a warm worker: while the pool
    grows, the backend forks an action instead of waiting for a worker."""
    for _ in range(20):
        outputs = run().outputs()
        if ran_there(outputs):
            return outputs
    raise AssertionError("no run of 20 got a warm worker")


def test_a_warm_workers_children_go_over_its_link_not_grpc(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    remote = flyte.with_runcontext(mode="remote")
    _, results, channels = _in_a_worker(lambda: remote.run(linked.fan, n=20), lambda out: out[0])
    assert results == [2 * i for i in range(20)]
    assert channels == 0, "the worker opened a gRPC channel for its children"


def test_a_link_that_gets_a_line_it_cannot_read_closes_and_calls_go_over_grpc(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    remote = flyte.with_runcontext(mode="remote")
    _, first, before, second, after = _in_a_worker(lambda: remote.run(linked.garbles_then_calls), lambda out: out[0])
    assert (first, second) == (2, 4)
    assert before == 0 and after == 1, (before, after)
    log = (flyte_backend.data_dir / "backend-test.log").read_text(errors="replace")
    assert "not its link's protocol; link closed" in log


def test_a_worker_acts_over_its_link_only_for_the_actions_it_runs(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    remote = flyte.with_runcontext(mode="remote")
    other = remote.run(linked.double, i=0)
    other.wait()
    answers = _in_a_worker(lambda: remote.run(linked.calls_intruder, other_run=other.name), bool)
    assert answers == ["PERMISSION_DENIED", "PERMISSION_DENIED", "PERMISSION_DENIED", "synced",
                       "INVALID_ARGUMENT", "synced"]
    assert other.actions.keys() == {"a0"}  # nothing was added to the other run


def _napping(run, marker: Path) -> bool:  # type: ignore[no-untyped-def]
    """Whether the run's child started its nap (else the run ended first, or 30 s went)."""
    deadline = time.monotonic() + 30
    while not marker.exists() and not run.done and time.monotonic() < deadline:
        time.sleep(0.02)
    return marker.exists()


def _finishes_over_grpc_after_a_kill(backend, run) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL and restart the backend while the run's parent waits over its link for the napping
    child: the link is gone, so the wait goes on over gRPC, and the parent is not run again."""
    backend.kill()
    backend.start()
    assert run.outputs() == (True, 8)
    assert run.actions["a0"].attempts == 1, "the parent was run again instead of going on over gRPC"


def test_a_warm_parent_whose_backend_is_killed_finishes_its_call_over_grpc(backend_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    backend = backend_factory().start()
    backend.use()
    try:
        remote = flyte.with_runcontext(mode="remote")
        for _ in range(20):
            run = remote.run(linked.waits_on_a_nap, marker_dir=str(tmp_path))
            if _napping(run, tmp_path / "napping"):
                break
            assert run.outputs() == (False, 0)  # forked while the pool grew: try again
        else:
            raise AssertionError("no run of 20 got a warm worker")
        _finishes_over_grpc_after_a_kill(backend, run)
    finally:
        flyte.init()


def test_a_forked_parent_whose_backend_is_killed_finishes_its_call_over_grpc(backend_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    backend = backend_factory().start()
    backend.use()
    try:
        run = flyte.with_runcontext(mode="remote").run(linked.forked_waits_on_a_nap, marker_dir=str(tmp_path))
        assert _napping(run, tmp_path / "napping"), "the child never started"
        _finishes_over_grpc_after_a_kill(backend, run)
    finally:
        flyte.init()


def test_a_link_whose_backend_died_before_its_first_call_says_so_at_once() -> None:
    """A nesting task asks for its link as it starts and first uses it after its body's first
    await; a backend killed in between leaves a dead peer, and the call must fall back to gRPC
    (LinkClosed) instead of waiting for an answer nobody will send."""
    async def first_calls() -> None:
        for _ in range(20):  # the reader sees the end in the same loop turn as the call resumes, or after
            mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            theirs.close()
            link = Link(mine.detach())
            with pytest.raises(LinkClosed):
                await asyncio.wait_for(link.enqueue_actions([]), 5)
            with pytest.raises(LinkClosed):
                await asyncio.wait_for(anext(link.watch(pb.ActionIdentifier(name="a0"))), 5)

    asyncio.run(first_calls())


def test_the_children_of_one_gather_reach_the_backend_in_call_order_one_batch_at_a_time() -> None:
    """The backend creates children in the order their requests arrive and admits them first come,
    first served; calls that reach the controller over several loop turns make several batches, and
    a later batch sent beside an earlier one could be stored first (a gather's `whole` admitted
    before its `core`). So a batch waits for the one before it, and what came meanwhile goes as one."""
    def req(name: str) -> queue_pb.EnqueueActionRequest:
        return queue_pb.EnqueueActionRequest(id=pb.ActionIdentifier(run="r", name=name), parent="a0")

    async def backend_reads(reader: asyncio.StreamReader) -> tuple[int, list[str]]:
        msg = json.loads(await asyncio.wait_for(reader.readline(), 5))
        asked = queue_pb.EnqueueActionsRequest.FromString(base64.b64decode(msg["enqueue"]))
        return msg["q"], [a.id.name for a in asked.actions]

    def answer(writer: asyncio.StreamWriter, q: int, names: list[str]) -> None:
        results = [queue_pb.EnqueueActionResponse(action=pb.Action(id=pb.ActionIdentifier(name=n))) for n in names]
        ok = queue_pb.EnqueueActionsResponse(results=results).SerializeToString()
        writer.write(json.dumps({"q": q, "ok": base64.b64encode(ok).decode()}).encode() + b"\n")

    async def calls() -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        reader, writer = await asyncio.open_unix_connection(sock=theirs)
        batcher = _Batcher(BackendClient("127.0.0.1:9"), Link(mine.detach()))  # gRPC is never reached
        first = [batcher.enqueue(req(n)) for n in ("core", "whole")]
        q, names = await backend_reads(reader)
        assert names == ["core", "whole"]
        later = []
        for n in ("small-1", "small-2"):  # two more loop turns while the first batch is unanswered
            later.append(batcher.enqueue(req(n)))
            await asyncio.sleep(0.05)
        with pytest.raises(asyncio.TimeoutError):  # nothing more is sent before the answer
            await asyncio.wait_for(reader.readline(), 0.3)
        answer(writer, q, names)
        assert [(await f).action.id.name for f in first] == ["core", "whole"]
        q, names = await backend_reads(reader)
        assert names == ["small-1", "small-2"]  # what came meanwhile, as one call, in call order
        answer(writer, q, names)
        assert [(await f).action.id.name for f in later] == ["small-1", "small-2"]
        writer.close()

    asyncio.run(calls())

"""A reusable environment whose actions call other tasks: their nested calls go over the warm
worker's link to the backend, not gRPC (`_internal/controllers/remote/link.py`)."""

from __future__ import annotations

import asyncio
import os

import flyte_jupyter as flyte

linked = flyte.TaskEnvironment(name="linked", reusable=flyte.ReusePolicy(replicas=2, idle_ttl=60))
outside = flyte.TaskEnvironment(name="linked_outside")


def _grpc_channels() -> int:
    """The gRPC channels this process has opened to the backend (none until a call needs one)."""
    from flyte_jupyter._internal.controllers.remote import lazy

    engine = lazy._ENGINE
    return sum(len(c._channels) for c in engine.connections.values()) if engine is not None else 0


def _on_link(coro_of_link):  # type: ignore[no-untyped-def]
    """Run a coroutine made from this process's link on the controllers' loop; its result or the
    error's gRPC status name."""
    from flyte_jupyter._internal.controllers.remote import lazy
    from flyte_jupyter.errors import BackendError

    engine = lazy._engine()
    try:
        return asyncio.run_coroutine_threadsafe(coro_of_link(engine.link()), engine.loop).result(30)
    except BackendError as exc:
        return exc.code


@linked.task
def double(i: int) -> int:
    return 2 * i


def _in_a_worker() -> bool:
    """Whether this action runs in a warm worker with a link that is open: not forked while the
    pool grows, nor in the worker whose link `garbles_then_calls` broke."""
    from flyte_jupyter._internal.controllers.remote import lazy
    from flyte_jupyter._internal.runtime.worker_link import attached

    engine = lazy._ENGINE
    opened = engine.link() if engine is not None and engine.pid == os.getpid() else None
    return attached() >= 0 and not (opened is not None and opened.closed)


@linked.task
async def fan(n: int) -> tuple[bool, list[int], int]:
    """n children at once, then how many gRPC channels this worker opened for them."""
    results = await asyncio.gather(*(double.aio(i) for i in range(n)))
    return _in_a_worker(), list(results), _grpc_channels()


@linked.task
async def garbles_then_calls() -> tuple[bool, int, int, int, int]:
    """A child over the link; then a line that is not the link's protocol (the backend closes the
    link); then a child again, over gRPC. The children's results and the channels after each."""
    from flyte_jupyter._internal.runtime.worker_link import attached

    if not _in_a_worker():
        return False, 0, 0, 0, 0
    first = await double.aio(1)
    before = _grpc_channels()
    os.write(attached(), b"this is not the link's protocol\n")
    second = await double.aio(2)
    return True, first, before, second, _grpc_channels()


def _intrusions(other_run: str) -> list[str]:
    """Asks the backend over this process's link for what its action may not do: a child of its
    parent, a child in another run (the run's first child's), a watch on its parent. The status
    names of the refusals, then the result of what it may do (a watch on its own children), then
    the refusal of a request that does not parse, then that watch again."""
    from flyte_jupyter import _context
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb
    from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb

    me = _context.ctx().action

    def child_of(run: str, parent: str) -> queue_pb.EnqueueActionRequest:
        return queue_pb.EnqueueActionRequest(
            id=pb.ActionIdentifier(project=me.project, domain=me.domain, run=run, name=f"{parent}-intruder"),
            parent=parent)

    async def first_of(watch) -> str:  # type: ignore[no-untyped-def]
        async for msg in watch:
            return "synced" if msg.synced else "changes"
        return "ended"

    async def unreadable(link) -> str:  # type: ignore[no-untyped-def]
        fut = asyncio.get_running_loop().create_future()
        await link._send({"enqueue": "not base64 at all!"}, fut)
        return await fut

    parent = pb.ActionIdentifier(project=me.project, domain=me.domain, run=me.run_name, name="a0")
    own = pb.ActionIdentifier(project=me.project, domain=me.domain, run=me.run_name, name=me.name)
    return [
        _on_link(lambda link: link.enqueue_actions([child_of(me.run_name, "a0")])),
        _on_link(lambda link: link.enqueue_actions([child_of(other_run, "a0")])),
        _on_link(lambda link: first_of(link.watch(parent))),
        _on_link(lambda link: first_of(link.watch(own))),
        _on_link(unreadable),
        _on_link(lambda link: first_of(link.watch(own))),  # the link is still open
    ]


@linked.task
def intrudes(other_run: str) -> list[str]:
    """`_intrusions` from a warm worker (else nothing)."""
    if not _in_a_worker():
        return []
    return _intrusions(other_run)


@outside.task
async def calls_intruder(other_run: str) -> list[str]:
    return await intrudes.aio(other_run)


def _nap(marker_dir: str) -> int:
    """Says it naps (a file the test waits for), naps 3 s, returns 7."""
    import time

    with open(os.path.join(marker_dir, "napping"), "w") as fh:
        fh.write(str(os.getpid()))
    time.sleep(3)
    return 7


@linked.task
def naps(marker_dir: str) -> int:
    return _nap(marker_dir)


@linked.task
async def waits_on_a_nap(marker_dir: str) -> tuple[bool, int]:
    """In a warm worker (else at once, without calling): one child that naps while the test kills
    and restarts the backend."""
    if not _in_a_worker():
        return False, 0
    return True, await naps.aio(marker_dir) + 1


# -- forked attempts: they ask for a link on their first nested call --------------------------------


def _linked_here() -> bool:
    """Whether this process has a link to its backend that is open (a forked attempt asks for one)."""
    from flyte_jupyter._internal.controllers.remote import lazy

    link = lazy._engine().link()
    return link is not None and not link.closed


@outside.task
def plus_one(i: int) -> int:
    return i + 1


@outside.task
async def forked_fan(n: int) -> tuple[bool, list[int], int, int]:
    """n forked children at once from a forked parent: whether its link is open after them, their
    results, the gRPC channels it opened, and its pid (to tell it was not a warm worker)."""
    results = await asyncio.gather(*(plus_one.aio(i) for i in range(n)))
    return _linked_here(), list(results), _grpc_channels(), os.getpid()


@outside.task
def forked_intrudes(other_run: str) -> list[str]:
    """`_intrusions` from a forked attempt."""
    return _intrusions(other_run) if _linked_here() else []


@outside.task
async def calls_forked_intruder(other_run: str) -> list[str]:
    return await forked_intrudes.aio(other_run)


@outside.task
def stray_descriptors() -> list[str]:
    """Sends the report socket what is not a link request: a pipe as a link, two descriptors with
    another message, and a link asked for by a process the backend did not start (a fork of this
    attempt). What became of each: "closed" once the backend let go of it, "served" if the backend
    answered a request over it."""
    import array
    import select
    import socket

    from flyte_jupyter._internal.runtime import worker_link

    report = worker_link._REPORT  # the report socket this attempt was offered (it asks on it for a link)

    def send(msg: bytes, fds: list[int]) -> None:
        with socket.socket(fileno=os.dup(report)) as out:
            out.sendmsg([msg], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])

    def fate(fd: int, seconds: float) -> str:
        ready, _, _ = select.select([fd], [], [], seconds)
        if not ready:
            return "held"
        return "closed" if os.read(fd, 1 << 16) == b"" else "served"

    pipe_r, pipe_w = os.pipe()
    send(b'{"link": true}', [pipe_w])
    os.close(pipe_w)
    other_r, other_w = os.pipe()
    mine, theirs = socket.socketpair()
    send(b'{"hello": 1}', [other_w, theirs.fileno()])
    os.close(other_w)
    theirs.close()
    outcome = [fate(pipe_r, 10), fate(other_r, 10), fate(mine.fileno(), 10)]

    from flyte_jupyter import _context
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb

    me = _context.ctx().action
    own = pb.ActionIdentifier(project=me.project, domain=me.domain, run=me.run_name, name=me.name)
    forked_r, forked_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # a process the backend did not start asks for a link for this attempt's action
        import base64
        import json

        a, b = socket.socketpair()
        send(b'{"link": true}', [b.fileno()])
        b.close()
        a.sendall(json.dumps({"q": 1, "watch": base64.b64encode(own.SerializeToString()).decode()}).encode() + b"\n")
        os.write(forked_w, fate(a.fileno(), 3).encode())
        os._exit(0)
    os.close(forked_w)
    os.waitpid(pid, 0)
    outcome.append(os.read(forked_r, 100).decode())
    return outcome


@outside.task
def naps_forked(marker_dir: str) -> int:
    return _nap(marker_dir)


@outside.task
async def forked_waits_on_a_nap(marker_dir: str) -> tuple[bool, int]:
    """A forked parent with a link, waiting on one child that naps while the test kills and
    restarts the backend."""
    linked_before = _linked_here()
    return linked_before, await naps_forked.aio(marker_dir) + 1

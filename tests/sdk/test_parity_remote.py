"""Flyte 2 parity against a real backend: the same error classes as in local mode, children that do
not outlive their parent, custom context across processes, and `flyte.remote` (Run, Action)."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

import flyte_jupyter as flyte
from flyte_jupyter import errors

env = flyte.TaskEnvironment(name="parity_remote")


@env.task
async def fails(kind: str) -> int:
    if kind == "oom":
        raise MemoryError("no memory")
    if kind == "custom":
        raise flyte.errors.CustomError("Quota", "over quota")
    raise ValueError("bad value")


@env.task(timeout=1)
async def too_slow() -> int:
    await asyncio.sleep(60)
    return 1


@env.task
async def classify(kind: str) -> str:
    try:
        if kind == "timeout":
            await too_slow()
        else:
            await fails(kind)
    except flyte.errors.RuntimeUserError as e:
        return f"{type(e).__name__}:{e.code}"
    return "none"


@pytest.mark.parametrize("kind, expected", [("value", "ActionFailedError:ValueError"), ("oom", "OOMError:OOMKilled"),
                                            ("custom", "ActionFailedError:Quota"),
                                            ("timeout", "MaxRuntimeExceededError:MaxRuntimeExceededError")])
def test_a_child_failure_raises_the_same_class_in_both_modes(flyte_backend, kind, expected):
    remote = flyte.with_runcontext(mode="remote").run(classify, kind=kind).outputs()
    local = flyte.with_runcontext(mode="local").run(classify, kind=kind).outputs()
    assert remote == local == expected


@env.task
async def nap(marker: str, seconds: float) -> str:
    open(marker + ".started", "w").close()
    await asyncio.sleep(seconds)
    open(marker + ".finished", "w").close()
    return "woke"


@env.task
async def leaves_child(marker: str) -> str:
    asyncio.create_task(nap(marker, 30.0))
    for _ in range(600):
        if os.path.exists(marker + ".started"):
            break
        await asyncio.sleep(0.05)
    return "left"


def test_children_left_running_are_aborted_when_the_parent_returns(flyte_backend, tmp_path):
    marker = str(tmp_path / "m")
    run = flyte.with_runcontext(mode="remote").run(leaves_child, marker=marker)
    assert run.outputs() == "left"
    run.wait()
    naps = [a for a in run.actions.values() if a.task == "parity_remote.nap"]
    assert len(naps) == 1 and naps[0].phase is flyte.Phase.ABORTED
    assert all(a.phase.terminal for a in run.actions.values())
    assert not os.path.exists(marker + ".finished")


@env.task
async def cancels_child(marker: str) -> str:
    pending = asyncio.ensure_future(nap(marker, 30.0))
    for _ in range(600):
        if os.path.exists(marker + ".started"):
            break
        await asyncio.sleep(0.05)
    pending.cancel()
    try:
        await pending
    except asyncio.CancelledError:
        pass
    for _ in range(200):  # the abort reaches the backend at once; give it a moment to end the child
        await asyncio.sleep(0.05)
    return "cancelled"


def test_cancelling_the_awaiting_task_aborts_the_child_on_the_backend(flyte_backend, tmp_path):
    started = time.monotonic()
    run = flyte.with_runcontext(mode="remote").run(cancels_child, marker=str(tmp_path / "c"))
    assert run.outputs() == "cancelled"
    (child,) = [a for a in run.actions.values() if a.task == "parity_remote.nap"]
    assert child.phase is flyte.Phase.ABORTED
    assert "cancelled" in child.error.message or "abort" in child.error.message
    assert time.monotonic() - started < 30


@env.task
async def show_context() -> dict:
    return flyte.get_custom_context()


@env.task
async def with_context() -> list:
    outer = await show_context()
    with flyte.custom_context(stage="b"):
        inner = await show_context()
    return [flyte.get_custom_context(), outer, inner]


def test_custom_context_crosses_processes(flyte_backend):
    expected = [{"team": "ml"}, {"team": "ml"}, {"team": "ml", "stage": "b"}]
    remote = flyte.with_runcontext(mode="remote", custom_context={"team": "ml"}).run(with_context)
    assert remote.outputs() == expected
    (inner,) = [a for a in remote.actions.values() if a.parent == "a0"][1:]
    action = flyte.remote.Action.get(run_name=remote.name, name=inner.name)
    assert action.inputs() == {}  # the context rides with the inputs but is not one of them


@env.task
async def add(a: int, b: int) -> int:
    print(f"adding {a} and {b}")
    return a + b


@env.task
async def parent_of_add(a: int) -> int:
    return await add(a, 1)


def test_flyte_remote_run_and_action(flyte_backend):
    run = flyte.with_runcontext(mode="remote").run(parent_of_add, a=2)
    assert run.outputs() == 3

    found = flyte.remote.Run.get(run.name)
    assert found.name == run.name and found.phase is flyte.Phase.SUCCEEDED
    assert found.outputs() == 3 and found.inputs() == {"a": 2}
    assert found.wait() is found and set(found.actions) == set(run.actions)

    listed = list(flyte.remote.Run.listall(limit=50))
    assert run.name in [r.name for r in listed]
    assert all(r.phase is flyte.Phase.SUCCEEDED for r in flyte.remote.Run.listall(in_phase=("SUCCEEDED",)))
    assert run.name in [r.name for r in flyte.remote.Run.listall(task_name="parity_remote.parent_of_add")]

    async def aio() -> tuple:
        r = await flyte.remote.Run.get.aio(run.name)
        names = [x.name async for x in flyte.remote.Run.listall.aio(limit=50)]
        return r.name, names

    name, names = asyncio.run(aio())
    assert name == run.name and run.name in names

    root = flyte.remote.Action.get(run_name=run.name)
    assert root.name == "a0" and root.phase is flyte.Phase.SUCCEEDED and root.outputs() == 3
    (child,) = flyte.remote.Action.listall(run.name, parent_name="a0")
    assert child.task_name == "parity_remote.add" and child.done()
    assert child.outputs() == 3 and child.inputs() == {"a": 2, "b": 1}
    assert "adding 2 and 1" in list(child.get_logs())
    assert flyte.remote.Action.get(f"{run.name}/{child.name}").name == child.name

    with pytest.raises(flyte.errors.ActionNotFoundError):
        flyte.remote.Run.get("r-does-not-exist")
    with pytest.raises(flyte.errors.ActionNotFoundError):
        flyte.remote.Action.get(run_name=run.name, name="a-nope")


@env.task
async def sleeps(seconds: float) -> int:
    await asyncio.sleep(seconds)
    return 1


def test_an_aborted_run_raises_action_aborted_error(flyte_backend):
    run = flyte.with_runcontext(mode="remote").run(sleeps, seconds=60.0)
    run.wait(timeout=60, wait_for="running")
    run.abort("test aborts")
    with pytest.raises(errors.ActionAbortedError):
        run.outputs()
    with pytest.raises(errors.ActionAbortedError):
        flyte.remote.Run.get(run.name).outputs()

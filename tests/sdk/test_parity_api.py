"""Flyte 2 parity, local mode: the error hierarchy, the top-level names, storage, durable, and
structured concurrency (children do not outlive their parent)."""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import time

import pytest

import flyte_jupyter as flyte
from flyte_jupyter import errors

# -- errors -------------------------------------------------------------------------------------------


def test_flyte_error_classes_exist_with_flyte_bases():
    for name in ("RuntimeUserError", "RuntimeSystemError", "RuntimeUnknownError", "OOMError", "TaskTimeoutError",
                 "MaxRuntimeExceededError", "MaxQueuedTimeExceededError", "DeadlineExceededError",
                 "RetriesExhaustedError", "CustomError", "ActionNotFoundError", "ActionAbortedError",
                 "NonRecoverableError", "InitializationError", "UnionRpcError", "ImageBuildError",
                 "DeploymentError", "RuntimeDataValidationError", "NotInTaskContextError", "InlineIOMaxBytesBreached"):
        cls = getattr(flyte.errors, name)
        assert issubclass(cls, errors.FlyteJupyterError), name
    assert issubclass(errors.RuntimeUserError, errors.BaseRuntimeError)
    assert issubclass(errors.BaseRuntimeError, RuntimeError)
    assert issubclass(errors.OOMError, errors.RuntimeUserError)
    assert issubclass(errors.MaxRuntimeExceededError, errors.TaskTimeoutError)
    assert issubclass(errors.ActionFailedError, errors.RuntimeUserError)
    assert issubclass(errors.BackendError, errors.RuntimeSystemError)
    assert issubclass(errors.TypeMismatchError, TypeError)
    e = errors.RuntimeUserError("ValueError", "bad")
    assert (e.code, e.kind, str(e)) == ("ValueError", "user", "bad")
    c = errors.CustomError.from_exception(KeyError("k"))
    assert c.code == "KeyError" and isinstance(c.__cause__, KeyError)
    assert errors.TaskTimeoutError("slow").code == "TaskTimeoutError"


def test_action_failure_picks_the_class_from_phase_and_kind():
    common = dict(action="a1", task="t.x", message="m")
    assert type(errors.action_failure(kind="ValueError", **common)) is errors.ActionFailedError
    assert type(errors.action_failure(kind="OOMKilled", **common)) is errors.OOMError
    assert type(errors.action_failure(kind="TimeoutError", phase="TIMED_OUT", **common)) is errors.MaxRuntimeExceededError
    queued = errors.action_failure(kind="TimeoutError", phase="TIMED_OUT", origin="system", **common)
    assert type(queued) is errors.MaxQueuedTimeExceededError
    assert type(errors.action_failure(kind="Aborted", phase="ABORTED", **common)) is errors.ActionAbortedError
    system = errors.action_failure(kind="ActionLost", origin="system", **common)
    assert isinstance(system, errors.RuntimeSystemError) and isinstance(system, errors.ActionFailedError)
    # map(return_exceptions=True): arithmetic on a failure raises it, as in Flyte
    with pytest.raises(errors.ActionFailedError):
        sum([1, errors.action_failure(kind="ValueError", **common)])


env = flyte.TaskEnvironment(name="parity")


@env.task
async def bad(x: int) -> int:
    raise ValueError(f"bad {x}")


@env.task
async def catches(x: int) -> str:
    try:
        await bad(x)
    except flyte.errors.RuntimeUserError as e:
        return f"{type(e).__name__}:{e.code}:{e.origin}"
    return "none"


def test_child_failure_is_a_runtime_user_error_with_the_code():
    assert flyte.run(catches, x=1).outputs() == "ActionFailedError:ValueError:user"


@env.task(retries=3)
async def fatal() -> int:
    raise flyte.errors.NonRecoverableError("no point retrying")


def test_non_recoverable_error_is_not_retried():
    with pytest.raises(flyte.errors.RuntimeUserError) as info:
        flyte.run(fatal)
    assert info.value.code == "NonRecoverableError" and info.value.attempts == 1


@env.task
def returns_wrong() -> int:
    return "text"  # type: ignore[return-value]


def test_wrong_output_type_has_the_same_kind_as_remote():
    with pytest.raises(errors.ActionFailedError) as info:
        flyte.run(returns_wrong)
    assert info.value.kind == "TypeMismatchError"


@env.task(timeout=flyte.Timeout(deadline=0.3), retries=5)
async def past_deadline() -> int:
    await asyncio.sleep(5)
    return 1


def test_deadline_counts_across_attempts_locally_and_is_refused_remotely():
    started = time.monotonic()
    with pytest.raises(flyte.errors.DeadlineExceededError):
        flyte.run(past_deadline)
    assert time.monotonic() - started < 3
    from flyte_jupyter._internal.runtime.spec import CodeRef, task_spec

    with pytest.raises(errors.NotSupportedHereError, match="deadline"):
        task_spec(past_deadline, CodeRef("pkl", "file:///x", "v1"), "p", "d")


# -- names at the top level ---------------------------------------------------------------------------


def test_backoff_and_timeout_follow_flyte():
    b = flyte.Backoff(base=datetime.timedelta(seconds=1), factor=2.0, cap=datetime.timedelta(seconds=5))
    assert [b.compute_delay(n).total_seconds() for n in range(4)] == [1.0, 2.0, 4.0, 5.0]
    with pytest.raises(ValueError, match="cap"):
        flyte.Backoff(base=datetime.timedelta(seconds=1), factor=2.0)
    r = flyte.RetryStrategy(count=3, backoff=b)
    assert [r.delay(a) for a in (1, 2, 3)] == [1.0, 2.0, 4.0]
    assert flyte.RetryStrategy(count=1, backoff=0.5).delay(2) == 1.0  # the older float form still doubles
    t = flyte.Timeout(max_queued_time=30)
    assert t.runtime_seconds is None and t.queued_seconds == 30.0
    from flyte_jupyter._internal.runtime.spec import CodeRef, task_spec

    @env.task(timeout=t, retries=r)
    def queued_only() -> int:
        return 1

    spec = task_spec(queued_only, CodeRef("pkl", "file:///x", "v1"), "p", "d")
    assert spec.timeout_seconds == 0 and spec.max_queued_seconds == 30
    assert (spec.retries.backoff_seconds, spec.retries.backoff_factor, spec.retries.max_backoff_seconds) == (1, 2, 5)


def test_pod_template_travels_in_the_spec():
    from flyte_jupyter._internal.runtime.spec import CodeRef, task_spec

    penv = flyte.TaskEnvironment(name="podded", pod_template=flyte.PodTemplate(
        pod_spec={"nodeSelector": {"pool": "gpu"}}, labels={"team": "ml"}))

    @penv.task
    def t() -> int:
        return 1

    custom = json.loads(task_spec(t, CodeRef("pkl", "file:///x", "v1"), "p", "d").custom_json)
    assert custom["pod_template"] == {"primary_container_name": "primary", "pod_spec": {"nodeSelector": {"pool": "gpu"}},
                                      "labels": {"team": "ml"}}
    assert flyte.run(t).outputs() == 1  # carried without effect locally


def test_forward_entrypoint_logger_and_project():
    @env.task(entrypoint=True)
    async def add(a: int, b: int) -> int:
        return a + b

    assert add.entrypoint is True
    assert asyncio.run(add.forward(1, 2)) == 3
    assert flyte.logger.name == "flyte_jupyter.user" and not flyte.logger.propagate
    assert flyte.current_project() == "default" and flyte.current_domain() == "development"
    flyte.init(project="proj", domain="staging")
    try:
        assert (flyte.current_project(), flyte.current_domain()) == ("proj", "staging")
    finally:
        flyte.init()


def test_deploy_plans_with_dry_run_and_names_the_gap_otherwise():
    plan = flyte.deploy(env, dry_run=True)
    assert plan[0].environment == "parity" and any(t.name == "parity.bad" for t in plan[0].tasks)
    with pytest.raises(errors.NotSupportedHereError, match="register"):
        flyte.deploy(env)
    with pytest.raises(errors.NotSupportedHereError, match="rerun"):
        flyte.rerun("r1")
    with pytest.raises(errors.NotSupportedHereError):
        flyte.with_runcontext().rerun("r1", recover=True)


def test_build_images_of_auto_environments_builds_nothing():
    built = flyte.build_images(env)
    assert isinstance(built.image_lookup, dict) and isinstance(built.to_transport, str)


# -- custom context -----------------------------------------------------------------------------------


@env.task
async def show_context() -> dict:
    return flyte.get_custom_context()


@env.task
async def with_context() -> list:
    outer = await show_context()
    with flyte.custom_context(stage="b"):
        inner = await show_context()
    return [flyte.get_custom_context(), outer, inner]


def test_custom_context_from_the_run_and_from_blocks():
    run = flyte.with_runcontext(custom_context={"team": "ml"}).run(with_context)
    assert run.outputs() == [{"team": "ml"}, {"team": "ml"}, {"team": "ml", "stage": "b"}]
    assert flyte.get_custom_context() == {}
    with flyte.custom_context(x="1"):  # outside a task: nothing to set
        assert flyte.get_custom_context() == {}


# -- storage and durable ----------------------------------------------------------------------------------


def test_storage_put_get_exists_streams(tmp_path):
    src = tmp_path / "a.txt"
    src.write_text("data")

    async def go() -> tuple:
        remote = await flyte.storage.put(str(src))
        assert await flyte.storage.exists(remote) and not await flyte.storage.exists(remote + "x")
        back = await flyte.storage.get(remote, str(tmp_path / "out" / "b.txt"))
        target = await flyte.storage.put_stream(b"xyz", to_path=str(tmp_path / "s.bin"))
        chunks = [c async for c in flyte.storage.get_stream(target, chunk_size=1)]
        async with await flyte.storage.open(str(tmp_path / "w.bin"), "wb") as fh:
            await fh.write(b"123")
        fh2 = await flyte.storage.open(str(tmp_path / "w.bin"))
        text = await fh2.read()
        await fh2.close()
        return remote, open(back).read(), chunks, text

    remote, text, chunks, written = asyncio.run(go())
    assert remote.startswith("file://") and remote.endswith("/a.txt")
    assert text == "data" and chunks == [b"x", b"y", b"z"] and written == b"123"
    assert flyte.storage.exists_sync(str(src)) and flyte.storage.join("s3://b", "k", "f") == "s3://b/k/f"
    assert flyte.storage.is_remote("s3://b/k") and not flyte.storage.is_remote(str(src))
    s3 = flyte.storage.S3(endpoint="http://localhost:9000", access_key_id="k", secret_access_key="s")
    flyte.init(storage=s3)
    try:
        assert flyte.storage.get_configured_fsspec_kwargs("s3")["client_kwargs"] == {"endpoint_url": "http://localhost:9000"}
        assert flyte.storage.get_configured_fsspec_kwargs("gs") == {}
    finally:
        flyte.init()


@env.task
async def clock() -> list:
    t0 = time.time()
    await flyte.durable.sleep.aio(0.2)
    return [time.time() - t0 >= 0.18, isinstance(await flyte.durable.time.aio(), float),
            isinstance(flyte.durable.now(), datetime.datetime)]


def test_durable_functions_record_steps():
    run = flyte.run(clock)
    assert run.outputs() == [True, True, True]
    traced = {a.task for a in run.actions.values() if a.task.startswith("trace:")}
    assert {"trace:sleep_start", "trace:durable_time", "trace:durable_now"} <= traced


# -- structured concurrency ---------------------------------------------------------------------------------


@env.task
async def nap(marker: str, seconds: float) -> str:
    open(marker + ".started", "w").close()
    await asyncio.sleep(seconds)
    open(marker + ".finished", "w").close()
    return "woke"


@env.task
async def leaves_child(marker: str) -> str:
    asyncio.create_task(nap(marker, 5.0))
    while not os.path.exists(marker + ".started"):
        await asyncio.sleep(0.01)
    return "left"


def test_children_still_running_when_the_parent_returns_are_aborted(tmp_path):
    marker = str(tmp_path / "m")
    started = time.monotonic()
    run = flyte.run(leaves_child, marker=marker)
    assert run.outputs() == "left" and time.monotonic() - started < 4
    naps = [a for a in run.actions.values() if a.task == "parity.nap"]
    assert len(naps) == 1 and naps[0].phase is flyte.Phase.ABORTED
    assert "parent" in naps[0].error.message
    assert all(a.phase.terminal for a in run.actions.values())
    time.sleep(0.2)
    assert not os.path.exists(marker + ".finished")


@env.task
async def cancels_child(marker: str) -> str:
    pending = asyncio.ensure_future(nap(marker, 5.0))
    while not os.path.exists(marker + ".started"):
        await asyncio.sleep(0.01)
    pending.cancel()
    try:
        await pending
    except asyncio.CancelledError:
        return "cancelled"
    return "ran"


def test_cancelling_the_awaiting_task_aborts_the_child(tmp_path):
    run = flyte.run(cancels_child, marker=str(tmp_path / "c"))
    assert run.outputs() == "cancelled"
    (child,) = [a for a in run.actions.values() if a.task == "parity.nap"]
    assert child.phase is flyte.Phase.ABORTED


@env.task
async def fails_with_child(marker: str) -> str:
    asyncio.create_task(nap(marker, 5.0))
    while not os.path.exists(marker + ".started"):
        await asyncio.sleep(0.01)
    raise RuntimeError("parent fails")


def test_a_failing_parent_aborts_its_children_too(tmp_path):
    with pytest.raises(errors.ActionFailedError):
        flyte.run(fails_with_child, marker=str(tmp_path / "f"))


@env.task
def sync_nap(seconds: float) -> str:
    time.sleep(seconds)  # a thread cannot be stopped: its action ends ABORTED, the sleep runs out
    return "woke"


@env.task(timeout=0.5)
def sync_parent_times_out(marker: str) -> str:
    return sync_nap(2.0)  # runs on this thread's own loop, not the run's


def test_a_timed_out_sync_parent_aborts_its_child_on_another_loop(tmp_path):
    run = flyte.with_runcontext().start_local(sync_parent_times_out, (), {"marker": str(tmp_path / "s")})
    run.wait()
    assert run.actions["a0"].phase is flyte.Phase.TIMED_OUT
    kids = [a for a in run.actions.values() if a.parent == "a0"]
    assert len(kids) == 1 and kids[0].phase is flyte.Phase.ABORTED
    assert all(a.phase.terminal for a in run.actions.values())

"""Local mode as a user sees it: runs, trees, cache, retries, timeouts, map, errors."""

import asyncio
import textwrap
import threading
import time

import pytest

import flyte_jupyter as flyte
from flyte_jupyter.errors import ActionFailedError

env = flyte.TaskEnvironment(name="hello", resources=flyte.Resources(cpu=1, memory="500Mi"), cache="auto")


@env.task
async def say_hello(data: str, lt: list[int]) -> str:
    return f"Hello {data} {lt} from {flyte.ctx().action.name}"


@env.task
async def main(data: str = "default string", n: int = 3) -> str:
    return await say_hello(data=data, lt=list(range(n)))


def test_issue_example_runs_and_builds_a_tree():
    flyte.init()
    run = flyte.run(main, data="hi", n=5)
    out = run.outputs()
    assert out.startswith("Hello hi [0, 1, 2, 3, 4] from a")
    assert run.phase == flyte.Phase.SUCCEEDED
    actions = run.actions
    assert set(a.task for a in actions.values()) == {"hello.main", "hello.say_hello"}
    root = actions["a0"]
    child = next(a for a in actions.values() if a.name != "a0")
    assert root.parent is None and child.parent == "a0"
    assert child.name in out  # ctx().action.name inside the task is the child's action name
    assert root.started_at <= child.started_at <= child.ended_at <= root.ended_at
    assert child.inputs == {"data": "hi", "lt": [0, 1, 2, 3, 4]} and child.outputs == out


nested_env = flyte.TaskEnvironment(name="nested")


@nested_env.task
async def leaf(x: int) -> int:
    return x * 2


@nested_env.task
async def middle(x: int) -> int:
    return await leaf(x) + 1


@nested_env.task
async def fan(n: int) -> list[int]:
    return list(await asyncio.gather(*(middle(i) for i in range(n))))


def test_nested_tree_has_the_expected_shape_and_deterministic_names():
    first = flyte.run(fan, n=4)
    assert first.outputs() == [1, 3, 5, 7]
    tree = first.actions
    middles = [a for a in tree.values() if a.task == "nested.middle"]
    leaves = [a for a in tree.values() if a.task == "nested.leaf"]
    assert len(middles) == 4 and len(leaves) == 4
    assert all(m.parent == "a0" for m in middles)
    assert {leaf_.parent for leaf_ in leaves} == {m.name for m in middles}
    second = flyte.run(fan, n=4)
    assert set(second.actions) == set(tree)  # same parent, inputs and order: same names


def test_sync_tasks_and_sync_calls_from_sync_parents():
    sync_env = flyte.TaskEnvironment(name="syncs")

    @sync_env.task
    def add(a: int, b: int) -> int:
        return a + b

    @sync_env.task
    def total(xs: list[int]) -> int:
        acc = 0
        for x in xs:
            acc = add(acc, x)
        return acc

    run = flyte.run(total, xs=[1, 2, 3, 4])
    assert run.outputs() == 10
    assert sum(1 for a in run.actions.values() if a.task == "syncs.add") == 4


def test_calling_a_task_outside_a_run_is_a_plain_call():
    assert asyncio.run(leaf(5)) == 10


def _cached_task(body: str):
    """Define a cached task from source, the way a notebook cell would redefine it."""
    namespace: dict = {}
    code = textwrap.dedent(f"""
        import flyte_jupyter as flyte
        cenv = flyte.TaskEnvironment(name="cached", cache="auto")
        calls = []

        @cenv.task
        def square(x: int) -> int:
            calls.append(x)
            {body}
    """)
    filename = f"<cell-{abs(hash(body))}>"
    import linecache

    linecache.cache[filename] = (len(code), None, code.splitlines(True), filename)
    exec(compile(code, filename, "exec"), namespace)
    return namespace["square"], namespace["calls"]


def test_second_run_is_a_cache_hit_and_a_changed_body_is_a_miss():
    square, calls = _cached_task("return x * x")
    assert flyte.run(square, x=3).outputs() == 9
    again = flyte.run(square, x=3)
    assert again.outputs() == 9 and calls == [3]
    assert again.actions["a0"].cache_hit
    changed, changed_calls = _cached_task("return x * x + 0")
    assert flyte.run(changed, x=3).outputs() == 9
    assert changed_calls == [3]  # new body -> new version -> executed
    forced = flyte.with_runcontext(overwrite_cache=True).run(square, x=3)
    assert forced.outputs() == 9 and calls == [3, 3]


def test_cache_ignored_inputs_and_version_override():
    calls = []
    cenv = flyte.TaskEnvironment(name="ign")

    @cenv.task(cache=flyte.Cache(behavior="override", version_override="v1", ignored_inputs=("note",)))
    def work(x: int, note: str) -> int:
        calls.append(note)
        return x + 1

    assert flyte.run(work, x=1, note="a").outputs() == 2
    assert flyte.run(work, x=1, note="b").outputs() == 2
    assert calls == ["a"]


def test_retries_with_backoff_then_success():
    attempts = []
    renv = flyte.TaskEnvironment(name="retry")

    @renv.task(retries=flyte.RetryStrategy(count=3, backoff=0.05))
    def flaky() -> str:
        attempts.append(time.monotonic())
        if len(attempts) < 3:
            raise ConnectionError(f"try {len(attempts)}")
        return "ok"

    run = flyte.run(flaky)
    assert run.outputs() == "ok"
    assert run.actions["a0"].attempts == 3
    gaps = [b - a for a, b in zip(attempts, attempts[1:])]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # backoff doubles


def test_exhausted_retries_say_how_many_attempts_ran():
    renv = flyte.TaskEnvironment(name="retry2")

    @renv.task(retries=2)
    def always_fails() -> int:
        raise ValueError("bad data")

    with pytest.raises(ActionFailedError) as info:
        flyte.run(always_fails)
    err = info.value
    assert err.kind == "ValueError" and err.attempts == 3
    assert "after 3 attempts" in str(err) and "ValueError: bad data" in str(err) and "a0" in str(err)
    assert isinstance(err.__cause__, ValueError)


def test_child_failure_names_the_failing_action():
    fenv = flyte.TaskEnvironment(name="fails")

    @fenv.task
    async def broken(x: int) -> int:
        raise KeyError(f"no item {x}")

    @fenv.task
    async def parent() -> int:
        return await broken(7)

    run = flyte.with_runcontext().start_local(parent, (), {})
    run.wait()
    with pytest.raises(ActionFailedError) as info:
        run.outputs()
    err = info.value
    assert err.task == "fails.broken" and err.kind == "KeyError" and "no item 7" in err.message
    failed = run.actions[err.action]  # the error names the child's action, as in remote runs
    assert failed.task == "fails.broken" and failed.phase == flyte.Phase.FAILED and failed.inputs == {"x": 7}
    assert run.actions["a0"].phase == flyte.Phase.FAILED


def test_a_timeout_raises_and_marks_timed_out():
    tenv = flyte.TaskEnvironment(name="slow")

    @tenv.task(timeout=0.2)
    async def sleepy() -> int:
        await asyncio.sleep(5)
        return 1

    started = time.monotonic()
    with pytest.raises(ActionFailedError) as info:
        flyte.run(sleepy)
    assert time.monotonic() - started < 4
    assert info.value.phase == "TIMED_OUT" and "timed out" in str(info.value)


def test_timeout_accepts_timedelta_and_timeout_objects():
    import datetime

    tenv = flyte.TaskEnvironment(name="slow2")

    @tenv.task(timeout=flyte.Timeout(max_runtime=datetime.timedelta(milliseconds=100)), retries=1)
    async def sleepy() -> int:
        await asyncio.sleep(5)
        return 1

    with pytest.raises(ActionFailedError) as info:
        flyte.run(sleepy)
    assert info.value.attempts == 2  # a timed-out attempt is retried, as in Flyte


def test_map_runs_concurrently_and_keeps_order():
    menv = flyte.TaskEnvironment(name="mapper")
    running = []
    peak = []
    lock = threading.Lock()

    @menv.task
    def slow_square(x: int) -> int:
        with lock:
            running.append(x)
            peak.append(len(running))
        time.sleep(0.2)
        with lock:
            running.remove(x)
        return x * x

    @menv.task
    def fan_out(n: int) -> list[int]:
        return list(flyte.map(slow_square, range(n)))

    run = flyte.run(fan_out, n=8)
    assert run.outputs() == [i * i for i in range(8)]
    assert max(peak) >= 4  # more than one at a time
    groups = {a.group for a in run.actions.values() if a.task == "mapper.slow_square"}
    assert groups == {"map:slow_square"}


def test_map_aio_concurrency_limit_and_exceptions():
    menv = flyte.TaskEnvironment(name="mapper2")

    @menv.task
    async def maybe(x: int) -> int:
        await asyncio.sleep(0.01)
        if x == 2:
            raise ValueError("two")
        return x

    @menv.task
    async def collect(n: int) -> list[str]:
        out = []
        async for r in flyte.map.aio(maybe, range(n), concurrency=2):
            out.append(type(r).__name__ if isinstance(r, Exception) else str(r))
        return out

    assert flyte.run(collect, n=4).outputs() == ["0", "1", "ActionFailedError", "3"]


def test_wrong_input_type_names_parameter_and_types():
    with pytest.raises(TypeError) as info:
        flyte.run(main, data="x", n="five")
    text = str(info.value)
    assert "'n'" in text and "int" in text and "str" in text


def test_missing_and_unknown_inputs_are_named():
    with pytest.raises(TypeError, match="no input 'm'"):
        flyte.run(main, m=1)
    with pytest.raises(TypeError, match="missing input 'x'"):
        flyte.run(leaf)


def test_run_rejects_plain_functions_with_a_fix():
    def plain(x: int) -> int:
        return x

    with pytest.raises(TypeError, match="@env.task"):
        flyte.run(plain, x=1)


def test_group_and_trace_appear_in_the_tree():
    genv = flyte.TaskEnvironment(name="grp")

    @flyte.trace
    async def fetch(url: str) -> int:
        return len(url)

    @genv.task
    async def one(x: int) -> int:
        return x

    @genv.task
    async def parent() -> int:
        with flyte.group("stage-1"):
            a = await one(1)
        n = await fetch("http://x")
        return a + n

    run = flyte.run(parent)
    assert run.outputs() == 9
    acts = run.actions.values()
    assert any(a.task == "grp.one" and a.group == "stage-1" for a in acts)
    assert any(a.task.startswith("trace:") and a.phase == flyte.Phase.SUCCEEDED for a in acts)


def test_report_writes_one_html_file_per_action(tmp_path):
    renv = flyte.TaskEnvironment(name="rep")

    @renv.task(report=True)
    async def reporter() -> int:
        flyte.report.log("<p>first</p>")
        await flyte.report.log.aio("<p>second</p>")
        flyte.report.get_tab("extra").replace("<b>tab</b>")
        return 1

    run = flyte.with_runcontext(raw_data_path=str(tmp_path / "raw")).run(reporter)
    html = (tmp_path / "raw" / "a0" / "report.html").read_text()
    assert "<p>first</p>" in html and "<p>second</p>" in html and "<b>tab</b>" in html
    assert run.outputs() == 1


def test_ctx_and_env_vars_and_override():
    cenv = flyte.TaskEnvironment(name="ctxenv")

    @cenv.task
    def info() -> dict[str, str]:
        import os

        c = flyte.ctx()
        return {"name": c.action.name, "run": c.action.run_name, "mode": c.mode,
                "raw": c.raw_data_path, "var": os.environ.get("MY_VAR", "")}

    run = flyte.with_runcontext(name="my-run", env_vars={"MY_VAR": "yes"}).run(info)
    out = run.outputs()
    assert out["name"] == "a0" and out["run"] == "my-run" and out["mode"] == "local" and out["var"] == "yes"
    assert run.name == "my-run"
    quick = info.override(retries=5, cache="disable")
    assert quick.retries.count == 5 and not quick.cache.enabled and info.retries.count == 0
    assert flyte.ctx() is None


def test_run_aio_and_task_aio():
    aenv = flyte.TaskEnvironment(name="aio")

    @aenv.task
    def double(x: int) -> int:
        return 2 * x

    @aenv.task
    async def use_aio(x: int) -> int:
        return await double.aio(x)

    async def go():
        run = await flyte.run.aio(use_aio, x=21)
        return run.outputs()

    assert asyncio.run(go()) == 42


def test_environment_api():
    base = flyte.TaskEnvironment(name="base", env_vars={"A": "1"}, resources=flyte.Resources(cpu="500m"))
    clone = base.clone_with("clone", env_vars={"B": "2"})
    assert clone.name == "clone" and clone.env_vars == {"B": "2"} and clone.resources == base.resources
    assert clone.tasks == {}
    with pytest.raises(ValueError, match="not valid"):
        flyte.TaskEnvironment(name="Bad Name!")
    with pytest.raises(ValueError, match="memory"):
        flyte.Resources(memory="lots")
    base.add_dependency(clone)
    assert base.depends_on == [clone]


def test_init_from_config_without_a_file_is_local_mode():
    cfg = flyte.init_from_config()
    assert not cfg.is_remote
    assert flyte.run(leaf, x=1).mode == "local"


def test_abort_stops_a_local_run_and_marks_live_actions_aborted():
    from flyte_jupyter._run import with_runcontext

    aenv = flyte.TaskEnvironment(name="abortme")

    @aenv.task
    async def forever(i: int) -> int:
        await asyncio.sleep(60)
        return i

    @aenv.task
    async def parent() -> list[int]:
        return list(await asyncio.gather(*(forever(i) for i in range(3))))

    run = with_runcontext().start_local(parent, (), {})
    deadline = time.monotonic() + 10
    while len(run.actions) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    run.abort()
    run.wait(timeout=10)
    assert run.phase == flyte.Phase.ABORTED
    assert all(a.phase == flyte.Phase.ABORTED for a in run.actions.values())


def test_watchers_see_every_phase_change_in_order():
    seen = []
    go = threading.Event()
    wenv = flyte.TaskEnvironment(name="watch")

    @wenv.task
    async def kid() -> int:
        return 1

    @wenv.task
    async def top() -> int:
        await asyncio.to_thread(go.wait, 10)  # hold until the watcher is attached
        return await kid()

    from flyte_jupyter._run import with_runcontext

    run = with_runcontext().start_local(top, (), {})
    run.watch(lambda event, info: seen.append((event.task, event.phase.value)))
    go.set()
    run.wait()
    assert [p for t, p in seen if t == "watch.kid"] == ["QUEUED", "RUNNING", "SUCCEEDED"]
    assert [p for t, p in seen if t == "watch.top"][-1] == "SUCCEEDED"
    assert run.state.counts() == (2, 2)


def test_wait_not_quiet_prints_progress(capsys):
    penv = flyte.TaskEnvironment(name="progress")

    @penv.task
    def one(x: int) -> int:
        return x

    @penv.task
    def many(n: int) -> int:
        return sum(flyte.map(one, range(n)))

    run = flyte.with_runcontext().start_local(many, (20,), {})
    run.wait(quiet=False)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1] == f"[{run.name}] SUCCEEDED: 21/21 actions finished"

"""What a run's records tell a client that looks late or live (real backend process): logs in the
order written with progress bars before their line ends, every attempt on the Action message,
deleting a finished run, busy slots in the status, and the script a run came from."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from flows import records

import flyte_jupyter as flyte
from flyte_jupyter.backend.store import schema
from flyte_jupyter.errors import BackendError


def _wait_until(predicate: Any, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def test_a_progress_bar_reaches_a_watching_client_before_its_line_ends(flyte_backend: Any) -> None:
    run = flyte.with_runcontext(mode="remote").run(records.progress, steps=8, delay=0.3)
    client = flyte_backend.client()
    assert _wait_until(lambda: run.phase is flyte.Phase.RUNNING, 30)
    seen: list[tuple[float, Any]] = []

    async def follow() -> None:
        async for line in client.tail_logs(run.name, "a0", follow=True, partial_lines=True):
            seen.append((time.monotonic(), line))

    started = time.monotonic()
    asyncio.run(asyncio.wait_for(follow(), 60))
    bar = [(t, line) for t, line in seen if line.stream == "stderr"]
    partial = [(t, line) for t, line in bar if line.partial]
    # intermediate states arrived one by one while the bar ran (2.7 s), not all at its end
    states = {line.text.rsplit("\r", 1)[-1].split(" ", 1)[0] for _, line in partial}
    assert len(states) >= 4, [line for _, line in bar]
    assert partial[0][0] - started < 1.5
    end = next(t for t, line in bar if not line.partial)
    assert end - partial[0][0] > 1.0
    # joined, the pieces are the one line a reader without partial lines gets
    whole = asyncio.run(_lines(client, run.name))
    assert [x.text.rsplit("\r", 1)[-1] for x in whole if x.stream == "stderr"] == ["8/8 |########|"]
    assert [x.text for x in whole if x.stream == "stdout"] == ["bar done"]


async def _lines(client: Any, run: str, action: str = "a0", attempt: int = 0) -> list[Any]:
    return [line async for line in client.tail_logs(run, action, attempt=attempt)]


@pytest.mark.parametrize("task", [records.interleave, records.interleave_warm], ids=["forked", "reused-worker"])
def test_stdout_and_stderr_arrive_in_the_order_they_were_written(flyte_backend: Any, task: Any) -> None:
    expected = [(s, f"{tag} {i}") for i in range(50) for s, tag in (("stdout", "out"), ("stderr", "err"))]
    for _ in range(2):  # a reused worker's second action too
        run = flyte.with_runcontext(mode="remote").run(task, n=50)
        assert run.outputs() == 50
        lines = asyncio.run(_lines(flyte_backend.client(), run.name))
        assert [(x.stream, x.text) for x in lines] == expected


def test_every_attempt_is_on_the_action_for_a_client_that_looks_late(flyte_backend: Any, tmp_path: Path) -> None:
    run = flyte.with_runcontext(mode="remote").run(records.third_time, marker_dir=str(tmp_path))
    assert run.outputs() == "made it"
    client = flyte_backend.client()
    detail = asyncio.run(client.get_action(run.name, "a0"))
    history = detail.info.attempt_history
    assert [a.number for a in history] == [1, 2, 3]
    assert [a.phase.value for a in history] == ["FAILED", "FAILED", "SUCCEEDED"]
    assert [str(a.error) for a in history[:2]] == ["ValueError: not yet (1)", "ValueError: not yet (2)"]
    assert history[2].error is None and detail.info.error is None
    for a in history:
        assert a.started_at and a.ended_at and a.ended_at >= a.started_at
        assert a.outputs_uri.endswith(f"a0-{a.number}") and a.log_ref
    assert history[1].started_at - history[0].ended_at >= 0.2  # the backoff was waited
    assert history[0].backoff == pytest.approx(0.2) and history[1].backoff == pytest.approx(0.4)
    # each attempt's log is there under its number; the spec comes with the action
    for n in (1, 2, 3):
        assert [x.text for x in asyncio.run(_lines(client, run.name, attempt=n))][0] == f"try {n}"
    assert detail.spec is not None and detail.spec.retries.count == 2
    # a watch that attaches now (as `%flyte status` does) gets the same history
    remote = flyte.remote.Run.get(run.name)
    remote.wait(30)
    info = remote.state.get("a0")
    assert [str(a.error) for a in info.attempt_history if a.error] == ["ValueError: not yet (1)",
                                                                     "ValueError: not yet (2)"]
    assert info.error is None and info.started_at == history[0].started_at and info.ended_at == history[2].ended_at


def test_an_action_first_seen_finished_keeps_its_start_and_end(flyte_backend: Any) -> None:
    run = flyte.with_runcontext(mode="remote").run(records.nap, s=0.5)
    assert run.outputs() == 0.5
    remote = flyte.remote.Run.get(run.name)
    remote.wait(30)
    info = remote.state.get("a0")
    assert info.ended_at - info.started_at >= 0.5


def test_a_finished_run_is_deleted_and_its_name_is_free_again(flyte_backend: Any) -> None:
    client = flyte_backend.client()
    name = f"del-{time.time_ns()}"
    run = flyte.with_runcontext(mode="remote", name=name).run(records.nap, s=0.1)
    assert run.outputs() == 0.1
    folder = flyte_backend.data_dir / "data" / "runs" / "default" / "development" / name
    logs = flyte_backend.data_dir / "logs" / "default" / "development" / name
    assert folder.is_dir() and logs.is_dir()
    count, kept = asyncio.run(client.delete_run(name))
    assert count == 1 and kept == []
    assert not folder.exists() and not logs.exists()
    with pytest.raises(BackendError) as err:
        asyncio.run(client.get_run(name))
    assert err.value.code == "NOT_FOUND"
    assert name not in [r.name for r in asyncio.run(client.list_runs(limit=200))]
    again = flyte.with_runcontext(mode="remote", name=name).run(records.nap, s=0.2)
    assert again.name == name and again.outputs() == 0.2


def test_a_running_run_is_not_deleted(flyte_backend: Any) -> None:
    client = flyte_backend.client()
    run = flyte.with_runcontext(mode="remote").run(records.nap, s=30)
    assert _wait_until(lambda: run.phase is flyte.Phase.RUNNING, 30)
    with pytest.raises(BackendError) as err:
        asyncio.run(client.delete_run(run.name))
    assert err.value.code == "FAILED_PRECONDITION"
    assert "still running" in err.value.message and "abort it first" in err.value.message
    assert asyncio.run(client.get_run(run.name))[0].name == run.name  # nothing was deleted
    asyncio.run(client.abort_run(run.name))
    run.wait(30)
    cli = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "runs", "delete", run.name, "--config",
                          str(flyte_backend.client_yaml)], capture_output=True, text=True, timeout=60)
    assert cli.returncode == 0, cli.stderr
    assert f"run {run.name} deleted (1 action); its name is free again" in cli.stdout
    missing = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "runs", "delete", run.name, "--config",
                              str(flyte_backend.client_yaml)], capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def test_the_status_counts_busy_slots_not_parents_waiting_on_children(flyte_backend: Any) -> None:
    client = flyte_backend.client()
    run = flyte.with_runcontext(mode="remote").run(records.waits_on_naps, n=(os.cpu_count() or 1) + 4, s=1.5)
    facts: dict[str, Any] = {}

    def children_running() -> bool:
        facts.update(asyncio.run(client.status()))
        return facts["waiting_parents"] >= 1 and facts["queued_actions"] >= 1

    assert _wait_until(children_running, 30), facts
    assert facts["cpu_requested"] <= facts["cpu_capacity"] and facts["running_actions"] <= facts["cpu_capacity"]
    assert facts["running_actions"] + facts["queued_actions"] >= 1
    run.wait(60)


def test_a_script_run_records_its_script(flyte_backend: Any, tmp_path: Path) -> None:
    script = tmp_path / "pipeline.py"
    script.write_text(textwrap.dedent(f'''
        import sys
        sys.path.insert(0, {str(Path(records.__file__).parent.parent)!r})
        import flyte_jupyter as flyte
        from flows import records

        if __name__ == "__main__":
            flyte.init_from_config({str(flyte_backend.client_yaml)!r})
            run = flyte.with_runcontext(mode="remote").run(records.nap, s=0.0)
            run.wait(60)
            print("RUN", run.name)
    '''))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    name = out.stdout.split("RUN ", 1)[1].split()[0]
    client = flyte_backend.client()
    assert asyncio.run(client.get_run(name))[0].labels["source"] == str(script)
    # the CLI's `run FILE TASK` records the file too
    cli = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "run", "--config", str(flyte_backend.client_yaml),
                          "--remote", str(Path(records.__file__)), "nap", "--s", "0"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert cli.returncode == 0, cli.stderr
    newest = asyncio.run(client.list_runs(limit=1))[0]
    assert newest.labels["source"] == str(Path(records.__file__).resolve())


def test_a_database_from_before_attempt_records_opens_and_keeps_its_runs(backend_factory: Any, tmp_path: Path) -> None:
    first = backend_factory(data_dir=tmp_path / "old").start()
    first.use()
    try:
        run = flyte.with_runcontext(mode="remote", name="before-upgrade").run(records.nap, s=0.0)
        assert run.outputs() == 0.0
    finally:
        flyte.init()
    first.stop()
    # The database as the release before attempt records left it (its schema step not applied).
    step = next(m.version for m in schema.MIGRATIONS if any("ADD COLUMN attempts" in s for s in m.statements))
    first.execute("ALTER TABLE actions DROP COLUMN attempts")
    first.execute("DELETE FROM schema_version WHERE version >= ?", (step,))
    second = backend_factory(data_dir=tmp_path / "old", port=first.port, store_url=first.store_url).start()
    detail = asyncio.run(second.client().get_action("before-upgrade", "a0"))
    assert detail.info.phase is flyte.Phase.SUCCEEDED
    assert [a.number for a in detail.info.attempt_history] == [1]  # made from the action's own fields
    second.use()
    try:
        again = flyte.with_runcontext(mode="remote").run(records.nap, s=0.0)
        assert again.outputs() == 0.0
        assert len(asyncio.run(second.client().get_action(again.name, "a0")).info.attempt_history) == 1
    finally:
        flyte.init()

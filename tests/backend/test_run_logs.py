"""TailRunLogs: every action's log of a run in one stream, against a real backend process."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
from flows import chatty

import flyte_jupyter as flyte
from flyte_jupyter.errors import BackendError


def _run(tmp_path: Any, n: int = 3, lines: int = 4, delay: float = 0.05) -> Any:
    return flyte.with_runcontext(mode="remote").run(chatty.chatty_parent, n=n, lines=lines, delay=delay,
                                                    marker_dir=str(tmp_path))


def _read(client: Any, run: str, max_actions: int = 100, resume: dict | None = None,
          timeout: float = 120) -> list[tuple[str, int, str]]:
    async def go() -> list[tuple[str, int, str]]:
        return [(action, line.attempt, line.text) async for action, line in
                client.tail_run_logs(run, max_actions, resume=resume)]

    return asyncio.run(asyncio.wait_for(go(), timeout))


def _of(lines: list[tuple[str, int, str]], action: str) -> list[tuple[int, str]]:
    return [(attempt, text) for a, attempt, text in lines if a == action]


def _by_task(run: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for info in run.actions.values():
        out.setdefault(info.task.rsplit(".", 1)[-1], []).append(info.name)
    return out


def test_one_stream_follows_every_action_in_order_and_ends_with_the_run(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = _run(tmp_path, n=3, lines=5, delay=0.1)
    lines = _read(flyte_backend.client(), run.name)  # opened while the run is live; ends by itself
    assert run.done and run.outputs() == 0 + 1 + 2 + 1
    names = _by_task(run)
    assert [t for _, t in _of(lines, "a0")] == ["parent start", "parent end"]
    children = {run.actions[n].name: n for n in names["chatty_child"]}
    seen = set()
    for name in children:
        texts = [t for _, t in _of(lines, name)]
        i = int(texts[0].split()[0][1:])
        seen.add(i)
        assert texts == [f"c{i} line {k}" for k in range(5)]
    assert seen == {0, 1, 2}
    (twice,) = names["twice"]
    assert [(a, t) for a, t in _of(lines, twice) if t.startswith("twice")] == [(1, "twice first"), (2, "twice second")]


def test_a_resumed_stream_sends_only_what_was_not_received(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = _run(tmp_path)
    run.wait(120)
    client = flyte_backend.client()
    full = _read(client, run.name)
    names = _by_task(run)
    child, (twice,) = names["chatty_child"][0], names["twice"]
    first_attempt = len(_of(full, twice)) - len([1 for a, _ in _of(full, twice) if a == 2])
    resumed = _read(client, run.name, resume={child: (1, 2), twice: (2, 0), "a0": (1, 1)})
    assert _of(resumed, child) == _of(full, child)[2:]
    assert _of(resumed, twice) == _of(full, twice)[first_attempt:] and all(a == 2 for a, _ in _of(resumed, twice))
    assert _of(resumed, "a0") == [(1, "parent end")]
    for other in names["chatty_child"][1:]:
        assert _of(resumed, other) == _of(full, other)
    # resumed actions count first toward max_actions; the rest are left out
    two = _read(client, run.name, max_actions=2, resume={child: (1, 0), twice: (1, 0)})
    assert {a for a, _, _ in two} == {child, twice}


def test_what_one_request_asks_for_is_bounded(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = _run(tmp_path, n=1, lines=1)
    run.wait(120)
    client = flyte_backend.client()
    for max_actions, resume, needle in [
            (0, None, "ask for 1 to 1000"), (1001, None, "ask for 1 to 1000"),
            (1, {"a0": (1, 0), "a1": (1, 0)}, "at most one per followed action"),
            (5, {"a0": (0, 0)}, "an attempt counts from 1"), (5, {"a0": (1, -1)}, "lines from 0")]:
        with pytest.raises(BackendError) as err:
            _read(client, run.name, max_actions, resume)
        assert err.value.code == "INVALID_ARGUMENT" and needle in err.value.message
    with pytest.raises(BackendError) as missing:
        _read(client, "no-such-run")
    assert missing.value.code == "NOT_FOUND"


_READER = """
import asyncio, sys
from flyte_jupyter._internal.client.grpc_client import BackendClient
async def main():
    client = BackendClient(sys.argv[1], sys.argv[2])
    async for action, line in client.tail_run_logs(sys.argv[3], 100):
        print(action, line.text, flush=True)
asyncio.run(main())
"""


def test_a_killed_reader_leaves_the_run_and_other_readers_whole(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    run = _run(tmp_path, n=2, lines=30, delay=0.1)
    reader = subprocess.Popen([sys.executable, "-c", _READER, flyte_backend.endpoint, flyte_backend.token, run.name],
                              stdout=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert reader.stdout is not None
        first = reader.stdout.readline()
        assert first.strip(), "the reader got no line"
    finally:
        os.kill(reader.pid, signal.SIGKILL)
        reader.wait(10)
        reader.stdout.close()  # type: ignore[union-attr]
    time.sleep(0.2)
    lines = _read(flyte_backend.client(), run.name)  # a new stream, while the run goes on, to its end
    assert run.outputs() == 0 + 1 + 1
    for name in _by_task(run)["chatty_child"]:
        texts = [t for _, t in _of(lines, name)]
        i = int(texts[0].split()[0][1:])
        assert texts == [f"c{i} line {k}" for k in range(30)]


def test_the_widgets_follower_resumes_across_a_backend_sigkill_without_losing_or_repeating(backend_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The run widget's log follower reads one stream per run; the backend is SIGKILLed and
    restarted mid-run: the follower resumes where the stream broke and ends with the run."""
    from flyte_jupyter.kernel._echo import LogFollower
    from flyte_jupyter.kernel._streams import RunOutput

    backend = backend_factory().start()
    backend.use()
    run = _run(tmp_path, n=2, lines=40, delay=0.1)
    output = RunOutput(run.name)
    follower = LogFollower(run, output)
    try:
        deadline = time.monotonic() + 60
        while not any(len(output.lines_of(a)) >= 5 for a in list(output.counts())) and time.monotonic() < deadline:
            time.sleep(0.05)
        backend.kill()
        time.sleep(0.5)
        backend.start()
        run.wait(timeout=180)
        assert run.outputs() == 0 + 1 + 1
        assert follower.drain(60), "the follower did not end with the run"
        for name in _by_task(run)["chatty_child"]:
            texts = [t.rstrip("\n") for t in output.lines_of(name)]
            i = int(texts[0].split()[0][1:])
            assert texts == [f"c{i} line {k}" for k in range(40)], "a line was lost or repeated across the restart"
        assert [t.rstrip("\n") for t in output.lines_of("a0")] == ["parent start", "parent end"]
    finally:
        follower.close(cancel=True)

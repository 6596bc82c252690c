"""A request is validated whole before anything is stored, and a run is created whole or not at all.

Each class of bad input (a name with a trailing newline, GPU counts of NaN/inf/-1, a NaN timeout,
plugin config that is not a JSON object, env names with '=' or NUL and values with NUL, inputs_uri
outside the run's own storage folder, inputs that are not a LiteralMap, a retry count that does not
fit) is refused with INVALID_ARGUMENT, and afterwards GetRun and ListRuns know no such run and no
inputs file was written. Two CreateRuns of one name racing: exactly one wins, with its own inputs.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from pathlib import Path
from typing import Any, Callable

import pytest

import flyte_jupyter as flyte
from flyte_jupyter.errors import BackendError

env = flyte.TaskEnvironment(name="whole")


@env.task
def plus_one(x: int) -> int:
    return x + 1


@env.task
def nap(seconds: float) -> float:
    import time as _time

    _time.sleep(seconds)
    return seconds


# -- helpers ----------------------------------------------------------------------------------------


def _storage_root(backend: Any) -> str:
    return asyncio.run(backend.client().status())["storage_root"]


def _runs_dir(backend: Any) -> Path:
    from flyte_jupyter._internal.runtime import storage as _storage

    return Path(_storage.local_path(_storage_root(backend))) / "runs" / "default" / "development"


def _request(backend: Any, task: Any, **inputs: Any) -> dict[str, Any]:
    from flyte_jupyter._internal.client.submit import prepare

    return prepare(flyte.with_runcontext(mode="remote"), task, (), inputs, _storage_root(backend))


def _refused(call: Callable[[], Any]) -> BackendError:
    with pytest.raises(BackendError) as info:
        call()
    return info.value


def _assert_nothing_stored(backend: Any, name: str) -> None:
    client = backend.client()
    for probe in {name, name.strip()}:
        with pytest.raises(BackendError) as info:
            asyncio.run(client.get_run(probe))
        assert info.value.code == "NOT_FOUND", (probe, info.value)
        assert probe not in [r.name for r in asyncio.run(client.list_runs(limit=1000))]
        assert not (_runs_dir(backend) / probe).exists(), f"storage of refused run {probe!r} exists"


def _spec_change(**changes: Any) -> Callable[[dict[str, Any]], None]:
    def change(request: dict[str, Any]) -> None:
        spec = request["task"]
        for path, value in changes.items():
            target = spec
            *parents, last = path.split("__")
            for p in parents:
                target = getattr(target, p)
            if isinstance(value, dict):
                getattr(target, last).clear()
                getattr(target, last).update(value)
            else:
                setattr(target, last, value)

    return change


def _outside_uris(root: str, name: str) -> list[str]:
    own = f"{root}/runs/default/development/{name}"
    return [
        "file:///etc/passwd",
        "/etc/passwd",
        f"{own}/../other-run/inputs/a0.pb",
        f"{own}/inputs/%2e%2e/%2e%2e/x.pb",
        f"{root}/runs/default/development/other-run/inputs/a0.pb",
        f"{own}/inputs/./a0.pb",
        f"{own}x/inputs/a0.pb",
    ]


BAD_SPECS: dict[str, Callable[[dict[str, Any]], None]] = {
    "gpu NaN": _spec_change(resources__gpu="nan"),
    "gpu inf": _spec_change(resources__gpu="inf"),
    "gpu -1": _spec_change(resources__gpu="-1"),
    "gpu 1e999": _spec_change(resources__gpu="1e999"),
    "cpu of 400 digits": _spec_change(resources__cpu="9" * 400),
    "memory of 400 digits": _spec_change(resources__memory="9" * 400),
    "timeout NaN": _spec_change(timeout_seconds=math.nan),
    "timeout inf": _spec_change(timeout_seconds=math.inf),
    "max queued NaN": _spec_change(max_queued_seconds=math.nan),
    "backoff NaN": _spec_change(retries__backoff_seconds=math.nan),
    "backoff factor overflowing": _spec_change(retries__count=50, retries__backoff_seconds=1.0,
                                               retries__backoff_factor=1e300),
    "huge retry count": _spec_change(retries__count=2**31 - 1),
    "custom JSON not JSON": _spec_change(custom_json="{not json"),
    "custom JSON a list": _spec_change(custom_json="[1, 2]"),
    "custom pod_template a string": _spec_change(custom_json='{"pod_template": "x"}'),
    "env name with =": _spec_change(env={"A=B": "1"}),
    "env name with NUL": _spec_change(env={"A\0B": "1"}),
    "env name empty": _spec_change(env={"": "1"}),
    "env value with NUL": _spec_change(env={"A": "x\0y"}),
    "task name with newline": _spec_change(id__name="whole.plus_one\n"),
    "version with newline": _spec_change(id__version="v1\n"),
    "arg with NUL": lambda r: r["task"].args.append("x\0y"),
    "reuse idle NaN": _spec_change(reuse__replicas=1, reuse__idle_ttl_seconds=math.nan),
}


# -- CreateRun --------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
def test_a_bad_task_spec_is_refused_and_nothing_stored(flyte_backend, case) -> None:  # type: ignore[no-untyped-def]
    request = _request(flyte_backend, plus_one, x=1)
    name = f"bad-spec-{abs(hash(case)) % 10**8}"
    request["run_name"] = name
    BAD_SPECS[case](request)
    err = _refused(lambda: asyncio.run(flyte_backend.client().create_run(**request)))
    assert err.code == "INVALID_ARGUMENT", (case, err)
    _assert_nothing_stored(flyte_backend, name)


@pytest.mark.parametrize("name", ["trailing-newline\n", "trailing-newline\r\n", "Upper", "a" * 64, "x/y", "-x"])
def test_a_bad_run_name_is_refused_and_shares_no_folder(flyte_backend, name) -> None:  # type: ignore[no-untyped-def]
    request = _request(flyte_backend, plus_one, x=1)
    request["run_name"] = name
    err = _refused(lambda: asyncio.run(flyte_backend.client().create_run(**request)))
    assert err.code == "INVALID_ARGUMENT"
    if name.strip() and "/" not in name:
        _assert_nothing_stored(flyte_backend, name)


@pytest.mark.parametrize("field, value", [
    ("env_vars", {"A=B": "1"}), ("env_vars", {"A\0": "1"}), ("env_vars", {"A": "\0"}),
    ("raw_data_path", "file:///tmp/x\0y"), ("project", "default\n"), ("domain", "development\n"),
])
def test_bad_run_options_are_refused(flyte_backend, field, value) -> None:  # type: ignore[no-untyped-def]
    request = _request(flyte_backend, plus_one, x=1)
    request["run_name"] = name = f"bad-opt-{abs(hash((field, str(value)))) % 10**8}"
    request[field] = value
    err = _refused(lambda: asyncio.run(flyte_backend.client().create_run(**request)))
    assert err.code == "INVALID_ARGUMENT", err
    _assert_nothing_stored(flyte_backend, name)


def test_inputs_that_are_not_a_literal_map_are_refused(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    for i, data in enumerate([b"\xff\xff\xff\xff", b"\x0a\x05abc", os.urandom(256)]):
        request = _request(flyte_backend, plus_one, x=1)
        request["run_name"] = name = f"bad-inputs-{i}"
        request["inputs"] = data
        err = _refused(lambda: asyncio.run(flyte_backend.client().create_run(**request)))
        assert err.code == "INVALID_ARGUMENT" and "LiteralMap" in err.message
        _assert_nothing_stored(flyte_backend, name)


def test_inputs_uri_outside_the_runs_own_folder_is_refused(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    root = _storage_root(flyte_backend)
    for i, uri in enumerate(_outside_uris(root, "uri-run")):
        request = _request(flyte_backend, plus_one, x=1)
        request["run_name"] = "uri-run"
        request["inputs"], request["inputs_uri"] = b"", uri
        err = _refused(lambda: asyncio.run(flyte_backend.client().create_run(**request)))
        assert err.code == "INVALID_ARGUMENT", (uri, err)
        _assert_nothing_stored(flyte_backend, "uri-run")


def test_a_symlink_in_the_runs_folder_does_not_lead_out(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from flyte_jupyter._internal.runtime import storage as _storage

    root = _storage_root(flyte_backend)
    folder = _runs_dir(flyte_backend) / "link-run" / "inputs"
    folder.mkdir(parents=True)
    secret = tmp_path / "secret.pb"
    secret.write_bytes(b"")
    (folder / "a0.pb").symlink_to(secret)
    request = _request(flyte_backend, plus_one, x=1)
    request["run_name"] = "link-run"
    request["inputs"], request["inputs_uri"] = b"", _storage.join(root, "runs/default/development/link-run/inputs/a0.pb")
    err = _refused(lambda: asyncio.run(flyte_backend.client().create_run(**request)))
    assert err.code == "INVALID_ARGUMENT"


def test_a_valid_run_after_refusals_of_its_name_still_works(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    request = _request(flyte_backend, plus_one, x=41)
    request["run_name"] = "after-refusals"
    bad = dict(request, inputs=b"\xff")
    assert _refused(lambda: asyncio.run(flyte_backend.client().create_run(**bad))).code == "INVALID_ARGUMENT"
    summary = asyncio.run(flyte_backend.client().create_run(**request))
    assert summary.name == "after-refusals"
    assert _wait_outputs(flyte_backend, "after-refusals") == 42


def _wait_outputs(backend: Any, name: str, task: Any = plus_one, timeout: float = 90.0) -> Any:
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.runtime.spec import decode_output

    client = backend.client()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        summary, actions = asyncio.run(client.get_run(name))
        if summary.phase.terminal:
            assert summary.phase is flyte.Phase.SUCCEEDED, summary
            root = asyncio.run(client.get_action(name))
            data = _storage.get_bytes(_storage.join(root.outputs_uri, "outputs.pb"))
            return decode_output(task, data)
        time.sleep(0.2)
    raise AssertionError(f"run {name} did not end")


# -- EnqueueAction ----------------------------------------------------------------------------------


@pytest.fixture
def live_run(flyte_backend):  # type: ignore[no-untyped-def]
    request = _request(flyte_backend, nap, seconds=60.0)
    summary = asyncio.run(flyte_backend.client().create_run(**request))
    yield summary.name
    asyncio.run(flyte_backend.client().abort_run(summary.name))


def _child(backend: Any, run: str, name: str, mutate: Callable[[dict[str, Any]], None] | None = None) -> Any:
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb
    from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb

    request = _request(backend, plus_one, x=1)
    if mutate is not None:
        mutate(request)
    return queue_pb.EnqueueActionRequest(
        id=pb.ActionIdentifier(project="default", domain="development", run=run, name=name), parent="a0",
        task=request["task"], inputs=request["inputs"], inputs_uri=request.get("inputs_uri", ""))


def _action_names(backend: Any, run: str) -> set[str]:
    return {a.name for a in asyncio.run(backend.client().get_run(run))[1]}


def _inputs_files(backend: Any, run: str) -> list[str]:
    folder = _runs_dir(backend) / run / "inputs"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_a_bad_child_is_refused_and_nothing_stored(flyte_backend, live_run) -> None:  # type: ignore[no-untyped-def]
    client = flyte_backend.client()
    before = _inputs_files(flyte_backend, live_run)
    root = _storage_root(flyte_backend)
    mutations: list[Callable[[dict[str, Any]], None]] = [BAD_SPECS[c] for c in sorted(BAD_SPECS)]
    mutations.append(lambda r: r.update(inputs=b"\xff\xff"))
    for uri in _outside_uris(root, live_run):
        mutations.append(lambda r, uri=uri: r.update(inputs=b"", inputs_uri=uri))
    for i, mutate in enumerate(mutations):
        name = f"bad-child-{i}"
        err = _refused(lambda: asyncio.run(client.enqueue_actions([_child(flyte_backend, live_run, name, mutate)])))
        assert err.code == "INVALID_ARGUMENT", (i, err)
        assert name not in _action_names(flyte_backend, live_run)
    for name in ("bad\n", "Bad", ""):
        err = _refused(lambda: asyncio.run(client.enqueue_actions([_child(flyte_backend, live_run, name)])))
        assert err.code == "INVALID_ARGUMENT"
    assert _inputs_files(flyte_backend, live_run) == before


def test_a_batch_with_one_bad_child_stores_none(flyte_backend, live_run) -> None:  # type: ignore[no-untyped-def]
    client = flyte_backend.client()
    before = _inputs_files(flyte_backend, live_run)
    good = _child(flyte_backend, live_run, "good-child")
    bad = _child(flyte_backend, live_run, "bad-child", BAD_SPECS["timeout NaN"])
    err = _refused(lambda: asyncio.run(client.enqueue_actions([good, bad])))
    assert err.code == "INVALID_ARGUMENT"
    assert {"good-child", "bad-child"}.isdisjoint(_action_names(flyte_backend, live_run))
    assert _inputs_files(flyte_backend, live_run) == before
    results = asyncio.run(client.enqueue_actions([good]))  # the good one alone is fine
    assert not results[0].existed and "good-child" in _action_names(flyte_backend, live_run)


def test_inputs_uri_inside_the_runs_own_folder_is_accepted(flyte_backend, live_run) -> None:  # type: ignore[no-untyped-def]
    from flyte_jupyter._internal.runtime import storage as _storage

    root = _storage_root(flyte_backend)
    uri = _storage.join(root, "runs", "default", "development", live_run, "inputs", "mine.pb")
    request = _child(flyte_backend, live_run, "by-uri")
    _storage.put_bytes(uri, request.inputs)
    request.inputs, request.inputs_uri = b"", uri
    results = asyncio.run(flyte_backend.client().enqueue_actions([request]))
    assert results[0].action.inputs_uri == uri


# -- racing CreateRuns ------------------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(3))
def test_concurrent_create_runs_of_one_name_one_wins_with_its_own_inputs(flyte_backend, round_) -> None:  # type: ignore[no-untyped-def]
    from flyte_jupyter._internal.runtime import storage as _storage

    name = f"racing-run-{round_}"
    requests = []
    for i in range(8):
        request = _request(flyte_backend, plus_one, x=100 + i)
        request["run_name"] = name
        requests.append(request)
    barrier = threading.Barrier(len(requests))
    results: list[Any] = [None] * len(requests)

    def create(i: int) -> None:
        async def go() -> Any:
            client = flyte_backend.client()  # a channel of its own, connected before the start line
            await client.status()
            barrier.wait()
            try:
                return await client.create_run(**requests[i])
            except BackendError as exc:
                return exc

        results[i] = asyncio.run(go())

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    winners = [i for i, r in enumerate(results) if not isinstance(r, BackendError)]
    assert len(winners) == 1, results
    assert all(r.code == "ALREADY_EXISTS" for r in results if isinstance(r, BackendError)), results
    winner = winners[0]
    root = asyncio.run(flyte_backend.client().get_action(name))
    assert _storage.get_bytes(root.inputs_uri) == requests[winner]["inputs"]
    assert _inputs_files(flyte_backend, name) == [Path(root.inputs_uri).name]  # the losers wrote nothing
    assert _wait_outputs(flyte_backend, name) == 100 + winner + 1

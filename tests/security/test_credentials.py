"""The admin token never reaches task code: each action gets a credential of its own run.

An action's environment holds a run credential, not the backend's token; with it an action can make
nested calls (a nested run works end to end) but cannot read, watch or abort another run, create
runs or call the admin service; once its run has ended the credential is refused. On Kubernetes
the credential (never the admin token) is what the namespace's Secret holds, one key per run.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import grpc
import pytest

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="creds")
warm = flyte.TaskEnvironment(name="creds_warm", reusable=flyte.ReusePolicy(replicas=1, idle_ttl=120))


@env.task
def environment() -> dict[str, str]:
    return dict(os.environ)


@env.task
def leaf(x: int) -> int:
    return x + 1


@env.task
async def nested(n: int) -> int:
    return sum(await asyncio.gather(*[leaf.aio(i) for i in range(n)]))


@env.task
def nap(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


@env.task
async def probe(other_run: str) -> dict[str, str]:
    """What this action's own credential may do, as status names ("OK" when allowed)."""
    from flyte_jupyter._context import ctx
    from flyte_jupyter._internal.client.grpc_client import BackendClient
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb
    from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb
    from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb
    from flyte_jupyter.errors import BackendError

    tc = ctx()
    assert tc is not None
    own = tc.action.run_name
    client = BackendClient(os.environ["FLYTE_JUPYTER_ENDPOINT"], os.environ["FLYTE_JUPYTER_TOKEN"])
    results: dict[str, str] = {}

    async def first_batch(run: str) -> None:
        async for _ in client.watch_raw(run, reconnect=False):
            return

    async def first_log_line(run: str) -> None:
        async for _ in client.tail_run_logs(run, 10):
            return

    print("probing", flush=True)  # the own run's log has a line to read

    other_child = queue_pb.EnqueueActionRequest(
        id=pb.ActionIdentifier(project="default", domain="development", run=other_run, name="intruder"),
        parent="a0", task=pb.TaskSpec(id=pb.TaskIdentifier(name="x", version="v"), args=["a0"]))
    attempts = {
        "get own run": lambda: client.get_run(own),
        "watch own run": lambda: first_batch(own),
        "get own action": lambda: client.get_action(own, "a0"),
        "get own inputs": lambda: client.get_action_spec(own, "a0", with_inputs=True),
        "get other inputs": lambda: client.get_action_spec(other_run, "a0", with_inputs=True),
        "rerun other run": lambda: client.create_run(None, rerun=run_pb.RerunSource(run=other_run, recover=True)),
        "get other run": lambda: client.get_run(other_run),
        "get other action": lambda: client.get_action(other_run, "a0"),
        "watch other run": lambda: first_batch(other_run),
        "tail own run logs": lambda: first_log_line(own),
        "tail other run logs": lambda: first_log_line(other_run),
        "abort other run": lambda: client.abort_run(other_run),
        "abort other action": lambda: client.abort_queued_action(other_run, "a0", project="default",
                                                                 domain="development"),
        "delete other run": lambda: client.delete_run(other_run),
        "delete own run": lambda: client.delete_run(own),
        "enqueue into other run": lambda: client.enqueue_actions([other_child]),
        "list runs": lambda: client.list_runs(),
        "create run": lambda: client.create_run(pb.TaskSpec()),
        "admin status": lambda: client.status(),
        "admin set limits": lambda: client.set_limits("default", "development", cpu="1"),
        "admin clear cache": lambda: client.clear_cache(),
    }
    for what, call in attempts.items():
        try:
            await call()
            results[what] = "OK"
        except BackendError as exc:
            results[what] = exc.code
    await client.close()
    return results


@warm.task
async def warm_nested(x: int) -> dict[str, Any]:
    """In a warm worker: one nested call, then the run credentials of the process's live clients
    other than this action's own (an earlier run's action in this worker made nested calls too)."""
    import gc

    from flyte_jupyter._internal.client.grpc_client import BackendClient

    assert await leaf.aio(x) == x + 1
    gc.collect()
    own = os.environ["FLYTE_JUPYTER_TOKEN"]
    others = {o.token for o in gc.get_objects() if isinstance(o, BackendClient) and o.token and o.token != own}
    return {"pid": os.getpid(), "other credentials": sorted(others)}


# -- helpers ----------------------------------------------------------------------------------------


def _remote() -> Any:
    return flyte.with_runcontext(mode="remote")


def _files_with(root: Path, needle: str, skip: set[str]) -> list[str]:
    found = []
    data = needle.encode()
    for path in root.rglob("*"):
        if path.is_file() and path.name not in skip and not path.is_symlink():
            try:
                if data in path.read_bytes():
                    found.append(str(path))
            except OSError:
                pass
    return found


def _get_run(endpoint: str, credential: str, run: str) -> grpc.StatusCode:
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb
    from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb
    from flyte_jupyter._internal.wire.proto import run_service_pb2_grpc as run_grpc

    with grpc.insecure_channel(endpoint) as channel:
        try:
            run_grpc.RunServiceStub(channel).GetRun(
                run_pb.GetRunRequest(id=pb.ActionIdentifier(run=run)),
                metadata=[("authorization", f"Bearer {credential}")], timeout=10)
        except grpc.RpcError as err:
            return err.code()  # type: ignore[attr-defined]
    return grpc.StatusCode.OK


# -- tests ------------------------------------------------------------------------------------------


def test_an_actions_environment_has_its_runs_credential_not_the_admin_token(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    admin = flyte_backend.token
    run = _remote().run(environment)
    seen = run.outputs()
    assert not [k for k, v in seen.items() if admin in v], "the admin token reached task code"
    credential = seen["FLYTE_JUPYTER_TOKEN"]
    assert credential.startswith("fjr1.") and credential != admin
    # ... nor the action's logs, its outputs or anything else it or the backend wrote
    data_dir = flyte_backend.data_dir
    assert _files_with(data_dir, admin, skip={"token", "client.yaml", ".client.yaml.tmp", ".token.tmp"}) == []
    # once the run has ended its credential is refused
    assert _get_run(flyte_backend.endpoint, credential, run.name) == grpc.StatusCode.UNAUTHENTICATED


def test_a_nested_run_works_end_to_end_with_the_run_credential(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = _remote().run(nested, n=4)
    assert run.outputs() == 1 + 2 + 3 + 4
    assert len(run.actions) == 5


def test_the_credential_reaches_only_its_own_run(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    victim = _remote().run(nap, seconds=120.0)
    try:
        results = _remote().run(probe, other_run=victim.name).outputs()
        assert results["get own run"] == "OK" and results["watch own run"] == "OK"
        assert results["get own action"] == "OK" and results["get own inputs"] == "OK"
        assert results["tail own run logs"] == "OK"
        for what in ("get other run", "get other action", "get other inputs", "rerun other run",
                     "watch other run", "tail other run logs", "abort other run", "delete other run", "delete own run",
                     "abort other action", "enqueue into other run", "list runs", "create run",
                     "admin status", "admin set limits", "admin clear cache"):
            assert results[what] == "PERMISSION_DENIED", (what, results)
        summary, actions = asyncio.run(flyte_backend.client().get_run(victim.name))
        assert not summary.phase.terminal, "the other run was aborted through an action's credential"
        assert "intruder" not in {a.name for a in actions}
    finally:
        victim.abort()


def test_a_warm_worker_keeps_no_earlier_runs_credential(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    """A warm worker serves one run after another over one connection to the backend, each call
    with its own run's credential: an action finds no client of an earlier run in its process."""
    _remote().run(warm_nested, x=0).outputs()  # the pool is warm from here on
    seen = [_remote().run(warm_nested, x=i).outputs() for i in range(1, 4)]
    assert len({out["pid"] for out in seen}) == 1, f"the runs did not share the warm worker: {seen}"
    assert [out["other credentials"] for out in seen] == [[], [], []]


def test_a_credential_is_bound_to_the_backend_and_the_run(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    from flyte_jupyter.backend.services.auth import RunCredentials
    from flyte_jupyter.backend.store.records import RunRecord

    victim = _remote().run(nap, seconds=120.0)
    try:
        summary, _ = asyncio.run(flyte_backend.client().get_run(victim.name))
        run = RunRecord("default", "development", victim.name, summary.created_at, "t")
        genuine = RunCredentials(flyte_backend.token, 7 * 86400).mint(run)
        assert _get_run(flyte_backend.endpoint, genuine, victim.name) == grpc.StatusCode.OK
        # signed with another key, for another incarnation of the run, or expired: refused
        other_key = RunCredentials("not-the-token", 7 * 86400).mint(run)
        older = RunCredentials(flyte_backend.token, 7 * 86400).mint(
            RunRecord("default", "development", victim.name, summary.created_at - 1, "t"))
        expired = RunCredentials(flyte_backend.token, 1).mint(
            RunRecord("default", "development", victim.name, summary.created_at - 100, "t"))
        for bad in (other_key, older, expired):
            assert _get_run(flyte_backend.endpoint, bad, victim.name) == grpc.StatusCode.UNAUTHENTICATED
    finally:
        victim.abort()


# -- Kubernetes: the Secret holds run credentials, one key per run ------------------------------------


def test_kubernetes_pods_reference_their_runs_credential_in_the_secret() -> None:
    pytest.importorskip("kubernetes")
    import dataclasses
    import json
    import time

    from flyte_jupyter.backend.plugins.k8s import secret as _secret
    from flyte_jupyter.backend.plugins.k8s.config import K8sSettings
    from flyte_jupyter.backend.plugins.k8s.podspec import build_pod
    from flyte_jupyter.backend.services.auth import RunCredentials
    from flyte_jupyter.backend.store.records import RunRecord

    creds = RunCredentials("admin-token", 3600)
    now = time.time()
    cred_a = creds.mint(RunRecord("p", "d", "run-a", now, "t"))
    cred_b = creds.mint(RunRecord("p", "d", "run-b", now, "t"))
    old = creds.mint(RunRecord("p", "d", "run-old", now - 7200, "t"))

    from flyte_jupyter.backend.executor.plugin import LaunchSpec

    fields = {f.name for f in dataclasses.fields(LaunchSpec)}
    base: dict[str, Any] = dict(run_name="run-a", action_name="a0", attempt=1, project="p", domain="d",
                                task_name="t", task_version="v", task_type="python", args=("a0",),
                                env={"FLYTE_JUPYTER_TOKEN": cred_a}, outputs_path="file:///o",
                                workdir="/w", log_dir="/l")
    spec = LaunchSpec(**{k: v for k, v in base.items() if k in fields})
    pod = build_pod(spec, K8sSettings(), "p-d", "h:1")
    assert cred_a not in json.dumps(pod) and "admin-token" not in json.dumps(pod)
    ref = next(e for e in pod["spec"]["containers"][0]["env"] if e["name"] == "FLYTE_JUPYTER_TOKEN")
    key_a = ref["valueFrom"]["secretKeyRef"]["key"]
    assert key_a.startswith("token-")
    _, data_a = _secret.split_env({"FLYTE_JUPYTER_TOKEN": cred_a})
    _, data_b = _secret.split_env({"FLYTE_JUPYTER_TOKEN": cred_b})
    assert data_a == {key_a: cred_a} and set(data_b) != set(data_a)
    # a Secret that held the admin token (before) and an expired run's credential: both go,
    # while another live run's key stays for its pods that have not started yet
    current = {"token": "admin-token", **data_a, **_secret.split_env({"FLYTE_JUPYTER_TOKEN": old})[1]}
    assert _secret.merged(current, data_b) == {**data_a, **data_b}
    assert _secret.holds({**data_a, **data_b}, data_b) and not _secret.holds(data_a, data_b)

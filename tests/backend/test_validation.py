"""What the backend refuses: over-limit resources, changed code under an old version, calls without
the token, unsafe bundles, oversized messages, bad names."""

from __future__ import annotations

import asyncio
import io
import os
import stat
import subprocess
import sys
import tarfile
import textwrap
from pathlib import Path

import pytest
from flows import basic, dup_a, dup_b, limits

import flyte_jupyter as flyte
from flyte_jupyter._internal.client.grpc_client import BackendClient
from flyte_jupyter.errors import BackendError

CLI = [sys.executable, "-m", "flyte_jupyter.cli"]


def _set_limits(backend, tmp_path: Path, text: str) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    file = tmp_path / "limits.yaml"
    file.write_text(text)
    return subprocess.run([*CLI, "admin", "limits", "set", "--project", "default", "--domain", "development",
                           "--file", str(file), "--config", str(backend.client_yaml)],
                          capture_output=True, text=True, timeout=60)


def test_over_limit_request_is_refused_in_flytes_words_and_limits_change_live(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    done = _set_limits(flyte_backend, tmp_path, "memory: 1Gi\ncpu: 2\n")
    assert done.returncode == 0, done.stderr
    with pytest.raises(BackendError) as info:
        flyte.with_runcontext(mode="remote").run(limits.wants_a_lot)
    assert info.value.code == "INVALID_ARGUMENT"
    assert info.value.message == ("Requested MEMORY limit [4Gi] is greater than current limit set in the platform "
                                  "configuration [1Gi]")
    listed, _ = asyncio.run(_runs_and_limits(flyte_backend.client()))
    assert not [r for r in listed if r.task == "big.wants_a_lot"], "a refused run must not be stored"

    assert _set_limits(flyte_backend, tmp_path, "memory: 8Gi\n").returncode == 0
    assert flyte.with_runcontext(mode="remote").run(limits.wants_a_lot).outputs() == 1


async def _runs_and_limits(client: BackendClient):  # type: ignore[no-untyped-def]
    return await client.list_runs(limit=100), await client.get_limits()


def test_same_version_with_other_code_is_refused_naming_both(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    first = flyte.with_runcontext(mode="remote", version="v1")
    assert first.run(dup_a.work).outputs() == 1
    assert first.run(dup_a.work).outputs() == 1  # the same code under the same version is fine
    with pytest.raises(BackendError) as info:
        first.run(dup_b.work)
    assert info.value.code == "ALREADY_EXISTS"
    message = info.value.message
    assert "'dup.work'" in message and "'v1'" in message
    assert "existing spec" in message and "new spec" in message


def test_calls_without_the_token_are_refused(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    for token in (None, "wrong-token"):
        client = BackendClient(flyte_backend.endpoint, token)
        with pytest.raises(BackendError) as info:
            asyncio.run(client.list_runs())
        assert info.value.code == "UNAUTHENTICATED"
        assert "token" in info.value.message
    assert asyncio.run(flyte_backend.client().list_runs()) is not None
    mode = stat.S_IMODE(os.stat(flyte_backend.client_yaml).st_mode)
    assert mode == 0o600


def _evil_bundle() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz") as tar:
        for name, data in (("ok.py", b"X = 1\n"), ("../evil.py", b"print('escaped')\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def test_a_bundle_with_a_parent_directory_member_is_refused(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.runtime.spec import CodeRef, task_spec

    client = flyte_backend.client()
    root = asyncio.run(client.status())["storage_root"]
    uri = _storage.join(root, "bundles", "evil-test.tar.gz")
    _storage.put_bytes(uri, _evil_bundle())
    spec = task_spec(basic.leaf, CodeRef("tgz", uri, "evil1"), "default", "development")
    from flyte_jupyter._internal.types import encode_inputs

    data = encode_inputs({"x": 1}, {"x": int})
    summary = asyncio.run(client.create_run(spec, inputs=data, run_name="evil-bundle"))
    run_dir = Path(_storage.local_path(root)).parent

    async def wait_end():  # type: ignore[no-untyped-def]
        async for _ in client.watch_run(summary.name):
            s, actions = await client.get_run(summary.name)
            if s.phase.terminal:
                return s

    ended = asyncio.run(asyncio.wait_for(wait_end(), 60))
    assert ended.phase is flyte.Phase.FAILED
    assert ended.error.kind == "UnsafeBundleError" and "'../evil.py'" in ended.error.message
    assert not ended.error.retryable
    # os.walk, not rglob: a bundle template extracting the same bundle in the background removes
    # its staging directory as it fails, and rglob raises on a directory that went mid-walk.
    assert not [f for _, _, files in os.walk(run_dir) for f in files if f == "evil.py"]


def test_oversized_inline_inputs_are_refused(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    from flyte_jupyter._internal.runtime.spec import CodeRef, task_spec

    spec = task_spec(basic.leaf, CodeRef("tgz", "file:///nowhere.tar.gz", "big1"), "default", "development")
    with pytest.raises(BackendError) as info:
        asyncio.run(flyte_backend.client().create_run(spec, inputs=b"x" * (11 * 1024 * 1024)))
    assert info.value.code == "INVALID_ARGUMENT" and "inline limit" in info.value.message


def test_a_request_over_its_own_limit_or_the_platforms_is_refused_and_nothing_stored(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A client that bypasses `flyte.Resources`' own check (a hand-made spec): the backend refuses a
    request above its limit, and a request alone above the platform limit, before storing a run."""
    from flyte_jupyter._internal.runtime.spec import CodeRef, task_spec

    client = flyte_backend.client()
    over = task_spec(basic.leaf, CodeRef("tgz", "file:///nowhere.tar.gz", "req1"), "default", "development")
    over.resources.cpu, over.requests.cpu = "1", "1500m"
    with pytest.raises(BackendError) as info:
        asyncio.run(client.create_run(over, inputs=b"", run_name="request-over-limit"))
    assert info.value.code == "INVALID_ARGUMENT"
    assert "cpu request [1500m] is more than its limit [1]" in info.value.message, info.value.message
    before = asyncio.run(client.get_limits())
    assert _set_limits(flyte_backend, tmp_path, "memory: 1Gi\n").returncode == 0
    alone = task_spec(basic.leaf, CodeRef("tgz", "file:///nowhere.tar.gz", "req2"), "default", "development")
    alone.requests.memory = "2Gi"
    with pytest.raises(BackendError) as info:
        asyncio.run(client.create_run(alone, inputs=b"", run_name="request-over-platform"))
    assert "Requested MEMORY request [2Gi] is greater than current limit" in info.value.message, info.value.message
    names = [r.name for r in asyncio.run(client.list_runs(limit=100))]
    assert "request-over-limit" not in names and "request-over-platform" not in names
    restore = "".join(f"{k}: {v}\n" for k, v in before.items()) or "{}\n"  # the module's backend is shared
    assert _set_limits(flyte_backend, tmp_path, restore).returncode == 0
    assert asyncio.run(client.get_limits()) == before


def test_flyte_resources_pairs_are_checked_where_the_task_is_declared_and_travel_as_request_and_limit() -> None:
    from flyte_jupyter._internal.runtime.spec import CodeRef, task_spec

    with pytest.raises(ValueError, match=r"the request '2' is more than the limit '1'; give the smaller quantity first"):
        flyte.Resources(cpu=("2", "1"))
    with pytest.raises(ValueError, match=r"a pair is \(request, limit\)"):
        flyte.Resources(memory=("1Gi",))
    env = flyte.TaskEnvironment(name="pairs", resources=flyte.Resources(cpu=("250m", "2"), memory="1Gi"))

    @env.task
    def paired() -> int:
        return 1

    spec = task_spec(paired, CodeRef("tgz", "file:///nowhere.tar.gz", "p1"), "default", "development")
    assert (spec.requests.cpu, spec.resources.cpu) == ("250m", "2")
    assert (spec.requests.memory, spec.resources.memory) == ("", "1Gi")  # a single quantity is both
    plain = task_spec(basic.leaf, CodeRef("tgz", "file:///nowhere.tar.gz", "p2"), "default", "development")
    assert not plain.HasField("requests")  # a task without pairs keeps its spec bytes


def test_backend_cli_start_status_stop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    from _backend_fixture import free_port

    data = tmp_path / "cli-backend"
    port = free_port()
    started = subprocess.run([*CLI, "backend", "start", "--data-dir", str(data), "--port", str(port)],
                             capture_output=True, text=True, timeout=90)
    try:
        assert started.returncode == 0, started.stderr
        assert f"127.0.0.1:{port}" in started.stdout
        status = subprocess.run([*CLI, "backend", "status", "--data-dir", str(data), "--json"],
                                capture_output=True, text=True, timeout=60)
        facts = json.loads(status.stdout)
        assert facts["running"] and facts["executor"] == "local" and facts["endpoint"] == f"127.0.0.1:{port}"
    finally:
        stopped = subprocess.run([*CLI, "backend", "stop", "--data-dir", str(data)], capture_output=True,
                                 text=True, timeout=60)
    assert "stopped" in stopped.stdout
    after = subprocess.run([*CLI, "backend", "status", "--data-dir", str(data)], capture_output=True, text=True,
                           timeout=60)
    assert "no backend running" in after.stdout


def test_binding_all_interfaces_without_tls_warns(backend_factory) -> None:  # type: ignore[no-untyped-def]
    backend = backend_factory(extra_args=["--host", "0.0.0.0"]).start()
    assert "WARNING" in backend.log_text() and "without TLS" in backend.log_text()
    limits = asyncio.run(backend.client().get_limits())  # the embedded default: this machine
    assert limits["cpu"] == str(os.cpu_count()) and limits["memory"].endswith("Mi")


def test_a_task_defined_in_main_runs_from_a_pickle_bundle(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    script = tmp_path / "interactive.py"
    script.write_text(textwrap.dedent(f"""
        import asyncio
        import flyte_jupyter as flyte

        flyte.init_from_config({str(flyte_backend.client_yaml)!r})
        env = flyte.TaskEnvironment(name="nb")

        def helper(x):
            return x * 3

        @env.task
        def inner(x: int) -> int:
            return helper(x)

        @env.task
        async def outer(n: int) -> list[int]:
            return list(await asyncio.gather(*[inner.aio(i) for i in range(n)]))

        run = flyte.run(outer, n=4)
        print("RESULT", run.outputs(), run.name)
    """))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "RESULT [0, 3, 6, 9]" in done.stdout


def test_tls_backend_serves_the_sdk_without_a_warning(backend_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    if shutil.which("openssl") is None:
        import pytest

        pytest.skip("openssl is needed to make a test certificate")
    key, cert = tmp_path / "tls.key", tmp_path / "tls.crt"
    made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                           "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                           "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made.stderr
    backend = backend_factory(extra_args=["--host", "0.0.0.0", "--tls-cert", str(cert), "--tls-key", str(key)]).start()
    assert "WARNING" not in backend.log_text()
    values = backend.client_values()
    assert values["insecure"] is False and values["ca_cert"] == str(cert)
    backend.use()
    try:
        assert flyte.with_runcontext(mode="remote").run(basic.fanout, n=3).outputs() == 6  # children dial TLS too
    finally:
        flyte.init()


def test_init_with_endpoint_and_api_key_and_env_config(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    flyte.init(endpoint=flyte_backend.endpoint, api_key=flyte_backend.token)
    assert flyte.run(basic.leaf, x=1).outputs() == 2
    script = tmp_path / "env_config.py"
    script.write_text(textwrap.dedent("""
        import sys
        sys.path.insert(0, sys.argv[1])
        import flyte_jupyter as flyte
        from flows import basic

        flyte.init_from_config()
        print("RESULT", flyte.run(basic.leaf, x=2).outputs())
    """))
    env = {**os.environ, "FLYTE_JUPYTER_CONFIG": str(flyte_backend.client_yaml)}
    done = subprocess.run([sys.executable, str(script), str(Path(__file__).parent)], capture_output=True,
                          text=True, timeout=120, env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "RESULT 3" in done.stdout

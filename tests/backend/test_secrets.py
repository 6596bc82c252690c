"""Secrets end to end on a real backend process (issue 19): stored encrypted, handed to exactly the
actions whose task declares them, absent from every log, row, spec, output and file the backend
keeps, and a missing one fails the action before its code runs."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from flows import secret_tasks

import flyte_jupyter as flyte
from flyte_jupyter.errors import ActionFailedError, BackendError


def _cli(backend, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:  # type: ignore[no-untyped-def]
    env = {**os.environ, "FLYTE_JUPYTER_CONFIG": str(backend.client_yaml)}
    return subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120, input=stdin)


def _files_holding(root: Path, needles: list[bytes]) -> list[str]:
    """Every file under `root` that holds one of `needles` (the SQLite files and WAL included)."""
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if any(n in data for n in needles):
                found.append(str(path.relative_to(root)))
    return found


def _forms(value: str) -> list[bytes]:
    raw = value.encode()
    return [raw, base64.b64encode(raw), base64.urlsafe_b64encode(raw), raw.hex().encode()]


def test_a_secret_reaches_only_the_actions_that_declare_it_and_no_file_the_backend_keeps(
        flyte_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key_value = "sk-" + secrets.token_urlsafe(24)
    cert_value = "-----CERT " + secrets.token_hex(20) + "-----"
    made = _cli(flyte_backend, "secrets", "create", "openai", stdin=key_value + "\n")  # stdin, never echoed
    assert made.returncode == 0, made.stderr
    assert key_value not in made.stdout + made.stderr
    cert = tmp_path / "cert.pem"
    cert.write_text(cert_value)
    made = _cli(flyte_backend, "secrets", "create", "tls.cert", "--from-file", str(cert))
    assert made.returncode == 0, made.stderr
    cert.unlink()

    key_file = flyte_backend.data_dir / "secrets.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600

    listed = _cli(flyte_backend, "secrets", "list")
    assert listed.returncode == 0 and "openai" in listed.stdout and "tls.cert" in listed.stdout
    assert key_value not in listed.stdout and cert_value not in listed.stdout

    run = flyte.with_runcontext(mode="remote").run(secret_tasks.main)
    out = run.outputs()
    seen = out["reader"]
    assert seen["env"] == hashlib.sha256(key_value.encode()).hexdigest()
    assert seen["file"] == hashlib.sha256(cert_value.encode()).hexdigest()
    assert seen["mode"] == "0o600"
    assert out["undeclared"] == {"sees_env": False, "sees_file": False}  # declares none, gets none
    assert out["main_sees_env"] is False
    # the run's own credential may neither read nor list secrets
    assert out["credential"] == "PERMISSION_DENIED,PERMISSION_DENIED"
    assert not Path(seen["path"]).exists()  # the file is gone with its attempt

    # the logs are among the files searched below: the reader's line is in one of them
    assert _files_holding(flyte_backend.data_dir / "logs", [b"reader ran; the key is"])

    # No log, row (SQLite and its WAL), stored spec, input, output or work file holds a value in
    # any plain encoding; only the key file is secret material, and it holds no value either.
    leaked = _files_holding(flyte_backend.data_dir, _forms(key_value) + _forms(cert_value))
    assert leaked == [], leaked


def test_a_missing_secret_fails_the_action_before_its_code_runs(flyte_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "ran"
    run = flyte.with_runcontext(mode="remote").run(secret_tasks.needs_missing, marker=str(marker))
    with pytest.raises(ActionFailedError) as info:
        run.outputs()
    message = str(info.value)
    assert "does-not-exist" in message
    assert "flyte-jupyter secrets create does-not-exist" in message
    assert not marker.exists()
    root = run.actions["a0"]
    assert root.attempts == 1  # not retried: another attempt would not find it either


def test_names_are_checked_before_anything_is_stored(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    for bad in ("bad\x01name", "has space", "x" * 300, ".hidden", "../up"):
        done = _cli(flyte_backend, "secrets", "create", bad, "--value", "v")
        assert done.returncode != 0 and "secret name" in done.stderr, (bad, done.stderr)
    client = flyte_backend.client()
    from flyte_jupyter._internal.client import platform

    with pytest.raises(BackendError) as info:  # the backend refuses it too, whatever the client
        asyncio.run(platform.create_secret(client, "bad\nname", b"v"))
    assert info.value.code == "INVALID_ARGUMENT" and "secret name" in info.value.message
    names = [s.id.name for s in asyncio.run(platform.list_secrets(client))]
    assert not any("bad" in n or " " in n for n in names)
    empty = _cli(flyte_backend, "secrets", "create", "empty", stdin="")
    assert empty.returncode != 0 and "empty value" in empty.stderr


def test_remote_secret_create_list_delete_and_overwrite(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    flyte.remote.Secret.create("remote-made", "v1")
    assert "remote-made" in [s.name for s in flyte.remote.Secret.listall()]
    with pytest.raises(BackendError) as info:
        flyte.remote.Secret.create("remote-made", "v2")
    assert info.value.code == "ALREADY_EXISTS"
    again = _cli(flyte_backend, "secrets", "create", "remote-made", "--value", "v3", "--overwrite")
    assert again.returncode == 0, again.stderr
    got = flyte.remote.Secret.get("remote-made")
    assert got.name == "remote-made" and got.updated_at >= got.created_at
    assert _cli(flyte_backend, "secrets", "delete", "remote-made").returncode == 0
    assert "remote-made" not in [s.name for s in flyte.remote.Secret.listall()]
    gone = _cli(flyte_backend, "secrets", "delete", "remote-made")
    assert gone.returncode != 0 and "NOT_FOUND" in gone.stderr


def test_local_mode_reads_the_configured_backends_secrets(flyte_backend, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from flyte_jupyter._internal.client import platform

    client = flyte_backend.client()
    key_value, cert_value = "local-" + secrets.token_hex(8), "cert-" + secrets.token_hex(8)
    asyncio.run(platform.create_secret(client, "openai", key_value.encode(), overwrite=True))
    asyncio.run(platform.create_secret(client, "tls.cert", cert_value.encode(), overwrite=True))
    for name in ("OPENAI_API_KEY", "TLS_CERT_FILE"):
        monkeypatch.delenv(name, raising=False)
    seen = flyte.with_runcontext(mode="local").run(secret_tasks.reader).outputs()
    assert seen["env"] == hashlib.sha256(key_value.encode()).hexdigest()
    assert seen["file"] == hashlib.sha256(cert_value.encode()).hexdigest() and seen["mode"] == "0o600"
    # the run set them for its own code only: the kernel's environment and disk are as before
    assert "OPENAI_API_KEY" not in os.environ and "TLS_CERT_FILE" not in os.environ
    assert not os.path.exists(seen["path"])


def test_local_mode_without_a_backend_reads_environment_variables(monkeypatch, tmp_path: Path) -> None:
    from flyte_jupyter._internal.client.resolve import CONFIG_ENV
    from flyte_jupyter.errors import SecretNotFoundError

    flyte.init()  # no backend configured
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "from-env")
    monkeypatch.setenv("TLS_CERT", "cert-from-env")  # a mounted secret's value comes from its env var too
    monkeypatch.delenv("TLS_CERT_FILE", raising=False)
    seen = flyte.with_runcontext(mode="local").run(secret_tasks.reader).outputs()
    assert seen["env"] == hashlib.sha256(b"from-env").hexdigest()
    assert seen["file"] == hashlib.sha256(b"cert-from-env").hexdigest()

    marker = tmp_path / "ran"
    monkeypatch.delenv("DOES_NOT_EXIST", raising=False)
    with pytest.raises(Exception) as info:
        flyte.with_runcontext(mode="local").run(secret_tasks.needs_missing, marker=str(marker)).outputs()
    assert "DOES_NOT_EXIST" in str(info.value) and "does-not-exist" in str(info.value)
    assert isinstance(info.value, SecretNotFoundError) or "SecretNotFoundError" in str(info.value)
    assert not marker.exists()


def test_a_spec_with_a_bad_secret_request_is_refused_before_the_run_exists(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    from flyte_jupyter._internal.runtime.spec import CodeRef, task_spec
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb
    from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb

    client = flyte_backend.client()
    spec = task_spec(secret_tasks.reader, CodeRef("pkl", "file:///nowhere.pkl.gz", "v1"), "default", "development")
    for bad, words in ((pb.SecretRequest(key="x\x00y"), "secret name"),
                       (pb.SecretRequest(key="ok", as_env_var="1BAD"), "environment variable"),
                       (pb.SecretRequest(key="ok", mount="/etc/../root"), "mount path")):
        broken = pb.TaskSpec()
        broken.CopyFrom(spec)
        broken.secrets.append(bad)
        req = run_pb.CreateRunRequest(run_name=f"bad-secret-{len(words)}", task=broken)
        with pytest.raises(BackendError) as info:
            asyncio.run(client._call("run", "CreateRun", req))
        assert info.value.code == "INVALID_ARGUMENT" and words in info.value.message, info.value.message
        with pytest.raises(BackendError):
            asyncio.run(client.get_run(f"bad-secret-{len(words)}"))


def test_a_secret_file_does_not_outlive_its_attempt_across_a_backend_sigkill(backend_factory) -> None:  # type: ignore[no-untyped-def]
    import time

    from flyte_jupyter._internal.client import platform

    backend = backend_factory()
    backend.start()
    backend.use()
    try:
        asyncio.run(platform.create_secret(backend.client(), "tls.cert", b"crash-" + secrets.token_hex(8).encode()))
        flyte.with_runcontext(mode="remote").run(secret_tasks.slow_reader, seconds=120)
        work = backend.data_dir / "work"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list(work.glob("*/*/*/*/.flyte-secrets/tls.cert")):
            time.sleep(0.1)
        files = list(work.glob("*/*/*/*/.flyte-secrets/tls.cert"))
        assert files and stat.S_IMODE(files[0].stat().st_mode) == 0o600
        # The files are written before the attempt starts; kill_actions finds it by its recorded handle.
        while time.monotonic() < deadline and not backend.recorded_handles():
            time.sleep(0.1)
        assert backend.recorded_handles()
        backend.kill()
        backend.kill_actions()  # the attempt dies while no backend watches it
        backend.start()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and files[0].exists():
            time.sleep(0.1)
        assert not files[0].exists()
    finally:
        flyte.init()

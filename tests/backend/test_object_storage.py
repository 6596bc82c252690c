"""A backend whose data lives in S3 (a real S3 API server, moto, with s3fs as the client): the
bundle, inputs, outputs, offloaded values, File/Dir and reports land in the bucket, and the SDK
reads them back from there; nothing is written to the local data directory's storage."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from flows import objects

import flyte_jupyter as flyte

pytestmark = pytest.mark.s3


@pytest.fixture
def s3_backend(backend_factory, s3_server, tmp_path: Path):  # type: ignore[no-untyped-def]
    bucket = s3_server.create_bucket(f"flyte-{uuid.uuid4().hex[:12]}")
    cfg = tmp_path / "backend.yaml"
    cfg.write_text(yaml.safe_dump({"storage": {"root": f"s3://{bucket}/data", "options": s3_server.options}}))
    backend = backend_factory(extra_args=["--config", str(cfg)]).start()
    backend.use()
    yield backend, bucket
    flyte.init()


def test_a_runs_values_live_in_the_bucket_and_are_read_back(s3_backend, s3_server) -> None:  # type: ignore[no-untyped-def]
    backend, bucket = s3_backend
    run = flyte.with_runcontext(mode="remote").run(objects.main, text="hello s3", parts=3, n_bytes=11 * 1024 * 1024)
    run.wait(timeout=120)
    assert run.phase is flyte.Phase.SUCCEEDED, [(a.name, a.phase, a.error) for a in run.actions.values()]
    read, names, size, f = run.outputs()
    assert (read, names, size) == ("hello s3", ["part0.txt", "part1.txt", "part2.txt"], 11 * 1024 * 1024)
    assert f.path.startswith(f"s3://{bucket}/")
    with f.open_sync("rb") as fh:  # the client reads the File from the bucket
        assert fh.read() == b"hello s3"

    keys = [k.split("/", 1)[1] for k in s3_server.filesystem().find(bucket)]
    assert any(k.startswith("data/bundles/") for k in keys), keys
    prefix = f"data/runs/default/development/{run.name}/"
    assert any(k.startswith(prefix + "inputs/a0") for k in keys), keys
    assert sum(k.startswith(prefix) and k.endswith("/outputs.pb") for k in keys) == 4, keys  # a0 and 3 children
    assert any(k.startswith(prefix) and k.endswith("/report.html") for k in keys), keys
    assert any("/values/" in k for k in keys), f"the 11 MiB value was not offloaded: {keys}"
    assert any(k.endswith("/note.txt") for k in keys) and any(k.endswith("/part1.txt") for k in keys), keys
    assert any(k.startswith(prefix) and k.endswith("/a0-1/logs/stdout") for k in keys), keys  # logs of finished actions
    local = backend.data_dir / "data"
    assert not local.exists() or not any(p.is_file() for p in local.rglob("*")), list(local.rglob("*"))

    shutil.rmtree(backend.data_dir / "logs")  # as on another replica: the logs come from the bucket
    logs = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "runs", "logs", run.name, "--config",
                           str(backend.client_yaml)], capture_output=True, text=True, timeout=60)
    assert "main read 3 parts" in logs.stdout, (logs.stdout, logs.stderr)


def test_a_storage_root_that_cannot_be_written_stops_the_start_with_the_reason(backend_factory, s3_server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from _backend_fixture import free_port

    cfg = tmp_path / "backend.yaml"
    nobody = {**s3_server.options, "endpoint_url": f"http://127.0.0.1:{free_port()}",  # nothing listens there
              "retries": 1, "config_kwargs": {"retries": {"max_attempts": 1}}}
    cfg.write_text(yaml.safe_dump({"storage": {"root": "s3://flyte/data", "options": nobody}}))
    backend = backend_factory(extra_args=["--config", str(cfg)])
    with pytest.raises(RuntimeError, match=r"cannot write to storage s3://flyte/data: .*Check storage.options"):
        backend.start()
    assert not backend.client_yaml.exists()


def test_debug_loads_a_failed_actions_bundle_and_inputs_from_the_bucket(s3_backend, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """`%flyte debug` against a backend whose data lives in S3: the code bundle and the typed
    inputs come from the bucket, and the body raises on the same line it raised on the backend."""
    from flows import rerunnable

    from flyte_jupyter.errors import ActionFailedError
    from flyte_jupyter.kernel._debug import load

    backend, bucket = s3_backend
    markers = tmp_path / "markers"
    markers.mkdir()
    run = flyte.with_runcontext(mode="remote").run(rerunnable.square, i=13, factor=2, marker_dir=str(markers))
    with pytest.raises(ActionFailedError, match="child 13 needs RERUN_FIXED=1"):
        run.outputs()
    _, spec, _ = asyncio.run(backend.client().get_action_spec(run.name, "a0"))
    assert any(arg.startswith(f"s3://{bucket}/") for arg in spec.args), list(spec.args)  # the bundle is in the bucket

    task, inputs, _ = load(run.name, "a0")
    assert task.name.endswith("square") and inputs == {"i": 13, "factor": 2, "marker_dir": str(markers)}
    with pytest.raises(RuntimeError, match="child 13 needs RERUN_FIXED=1") as raised:
        task.func(**inputs)
    assert raised.traceback[-1].statement.lines[0].strip().startswith("raise RuntimeError")
    assert len(list(markers.iterdir())) == 2  # one execution on the backend, one here

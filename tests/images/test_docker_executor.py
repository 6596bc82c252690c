"""Actions as containers on the session's real Docker engine (the `docker` executor and ContainerTask).

A backend with ``executor: docker`` runs every action of `container_flows` in a container of the
image the Docker builder built and pushed (a Debian base with flyte-jupyter and a pip package the
test machine does not have); a backend with the default local executor still runs ContainerTasks as
containers (the registry's raw-container plugin). Each test checks that no container is left.
"""

from __future__ import annotations

import importlib
import os
import time
from pathlib import Path
from typing import Iterator

import pytest

from flyte_jupyter.errors import ActionAbortedError, OOMError
from tests._backend_fixture import BackendProcess

from .docker_engine import Engine, _pids_naming

pytestmark = pytest.mark.docker

INSTANCE_LABEL = "org.flyte-jupyter.instance"


@pytest.fixture(scope="module")
def flows_env(docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """What the client needs: the Docker builder, an image home of this module, the engine."""
    env = {
        "DOCKER_HOST": docker_engine.host, "FLYTE_JUPYTER_IMAGE_BUILDER": "docker",
        "FLYTE_JUPYTER_IMAGE_HOME": str(tmp_path_factory.mktemp("container-images")),
        "FLYTE_JUPYTER_TEST_REGISTRY": docker_engine.registry, "FLYTE_JUPYTER_TEST_PYTHON": docker_engine.python,
        "FLYTE_JUPYTER_TEST_BUSYBOX": docker_engine.bases["busybox"],
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield env
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def flows(flows_env: dict):
    from tests.images import container_flows

    return importlib.reload(container_flows)  # reads the registry and base names set above


def _backend(data_dir: Path, engine: Engine, executor: str) -> BackendProcess:
    config = data_dir.parent / f"{data_dir.name}.yaml"
    config.write_text(f"executor: {executor}\nexecutor_config:\n  docker_host: {engine.host}\n")
    return BackendProcess(data_dir, extra_args=["--config", str(config)], env={"DOCKER_HOST": engine.host})


@pytest.fixture(scope="module")
def docker_backend(flows_env: dict, docker_engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    backend = _backend(tmp_path_factory.mktemp("docker-backend") / "be", docker_engine, "docker").start()
    try:
        yield backend
    finally:
        backend.stop()


@pytest.fixture
def use_docker_backend(docker_backend: BackendProcess) -> Iterator[BackendProcess]:
    import flyte_jupyter as flyte

    docker_backend.use()
    yield docker_backend
    flyte.init()


def containers(engine: Engine, *labels: str) -> list[str]:
    filters = [arg for label in (labels or (INSTANCE_LABEL,)) for arg in ("--filter", f"label={label}")]
    return engine.docker("ps", "-a", *filters, "--format", "{{.Names}} {{.Status}}").stdout.split("\n")[:-1]


def wait_for(what: str, check, timeout: float = 120.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_actions_run_in_containers_of_their_image_and_call_children(
        use_docker_backend: BackendProcess, flows, docker_engine: Engine) -> None:
    import flyte_jupyter as flyte

    run = flyte.run(flows.parent, n=3)
    run.wait()
    # every child imported the pip package only the image has, inside a container (/.dockerenv)
    assert run.outputs() == [f"{i}:2.1.0:True" for i in range(3)]
    assert containers(docker_engine) == []  # each removed when done


def test_an_action_over_its_memory_limit_is_reported_as_oom(
        use_docker_backend: BackendProcess, flows, docker_engine: Engine) -> None:
    import flyte_jupyter as flyte

    run = flyte.run(flows.hog)
    run.wait()
    with pytest.raises(OOMError, match=r"OOM, its container used more memory than its limit of 128Mi"):
        run.outputs()
    assert containers(docker_engine) == []


def test_abort_stops_the_container(use_docker_backend: BackendProcess, flows, docker_engine: Engine) -> None:
    import flyte_jupyter as flyte

    run = flyte.run(flows.sleeper)
    wait_for("the container to run", lambda: [c for c in containers(docker_engine, f"org.flyte-jupyter.run={run.name}")
                                              if " Up " in f" {c.split(' ', 1)[1]} "])
    wait_for("its log, streamed while it runs", lambda: any("sleeping in a container" in line for line in run.logs()),
             timeout=60)
    started = time.monotonic()
    run.abort()
    run.wait()
    assert time.monotonic() - started < 30  # docker stop, not the 600 s sleep
    with pytest.raises(ActionAbortedError):
        run.outputs()
    wait_for("the container to be removed", lambda: containers(docker_engine) == [], timeout=30)


def test_a_sigkilled_backend_leaves_its_container_to_the_next_start(
        flows_env: dict, flows, docker_engine: Engine, tmp_path: Path) -> None:
    import flyte_jupyter as flyte

    backend = _backend(tmp_path / "be", docker_engine, "docker").start()
    try:
        backend.use()
        run = flyte.run(flows.sleeper)
        (name,) = wait_for("the container", lambda: [c.split()[0] for c in containers(
            docker_engine, f"org.flyte-jupyter.run={run.name}") if " Up " in f" {c} "])
        wait_for("the log follower", lambda: _pids_naming(Path(name)))
        backend.kill()
        # the container runs on; the backend's `docker logs -f` and `docker wait` died with it
        wait_for("the helpers to end", lambda: not _pids_naming(Path(name)), timeout=10)
        assert [c.split()[0] for c in containers(docker_engine)] == [name]
        backend.start()  # reattaches to it (recover), then the user aborts the run
        backend.use()
        wait_for("the restarted backend to take the abort", lambda: _abort(run.name), timeout=30)
        wait_for("the container to be removed", lambda: containers(docker_engine) == [], timeout=60)
    finally:
        backend.stop()
        flyte.init()
        for entry in containers(docker_engine):
            docker_engine.docker("rm", "-f", entry.split()[0], check=False)


def _abort(run_name: str) -> bool:
    import flyte_jupyter as flyte
    from flyte_jupyter.errors import BackendError

    try:  # the first call after a restart may meet a channel still backing off
        flyte.remote.Run.get(run_name).abort()
    except BackendError:
        return False
    return True


def test_container_task_with_inputs_and_outputs_on_the_local_executor(
        flows_env: dict, flows, docker_engine: Engine, tmp_path: Path) -> None:
    import flyte_jupyter as flyte

    with _backend(tmp_path / "be", docker_engine, "local") as backend:
        backend.use()
        try:
            run = flyte.run(flows.call_greet, who="container")
            run.wait()
            assert run.outputs() == "hello container/42"  # a Python parent, its ContainerTask child in busybox
            failed = flyte.run(flows.fail3)
            failed.wait()
            with pytest.raises(Exception) as err:
                failed.outputs()
            assert "exited with code 3" in str(err.value) and "about to fail" in str(err.value)
        finally:
            flyte.init()
    assert containers(docker_engine) == []

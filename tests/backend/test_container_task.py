"""ContainerTask without a container engine: image="local" runs the command on the host, through
the backend's raw-container plugin and in local runs; an image with no engine is refused before
anything runs. (With a real engine: tests/images/test_docker_executor.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from flows import containers

import flyte_jupyter as flyte
from flyte_jupyter.errors import ActionFailedError, DockerEngineUnavailableError, FlyteJupyterError
from flyte_jupyter.extras import ContainerTask
from tests._backend_fixture import BackendProcess

NO_ENGINE = "unix:///nonexistent/docker.sock"


def test_local_image_commands_run_on_the_host_through_the_backend(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(containers.measure_twice, word="tea")
    run.wait()
    # the inputs were files (word) and template text (loud as Flyte writes bools); outputs typed back
    assert run.outputs() == ["tea|true|1.5/3", "teatea|false|2.0/6"]
    child = [name for name in run.actions if name != "a0"][0]
    assert "measured" in "\n".join(run.logs(child))


def test_local_image_commands_run_on_the_host_in_a_local_run() -> None:
    flyte.init()
    run = flyte.with_runcontext(mode="local").run(containers.measure, word="ab", loud=False, scale=3.0)
    assert run.outputs() == ("ab|false|3.0", 2)


def test_a_missing_output_and_an_exit_code_are_the_actions_errors(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    forgot = flyte.with_runcontext(mode="remote").run(containers.forgetful)
    crashed = flyte.with_runcontext(mode="remote").run(containers.crashing)
    forgot.wait()
    crashed.wait()
    with pytest.raises(ActionFailedError, match=r"exited 0 but wrote no output 'answer': write it to /var/outputs/answer"):
        forgot.outputs()
    assert "nothing written, token=none" in "\n".join(forgot.logs())  # no backend credential in a raw command
    with pytest.raises(ActionFailedError) as err:
        crashed.outputs()
    assert "exited with code 3" in str(err.value) and "disk on fire" in str(err.value)


def test_an_image_without_an_engine_is_refused_before_anything_runs(tmp_path: Path) -> None:
    config = tmp_path / "backend.yaml"
    config.write_text(f"executor_config:\n  docker_host: {NO_ENGINE}\n")
    with BackendProcess(tmp_path / "be", extra_args=["--config", str(config)], env={"DOCKER_HOST": NO_ENGINE}) as backend:
        backend.use()
        try:
            with pytest.raises(FlyteJupyterError, match=r"container task boxes\.boxed needs a container engine .* none "
                                                        r"answers .*image='local'"):
                flyte.with_runcontext(mode="remote").run(containers.boxed)
            assert list(flyte.remote.Run.listall()) == []  # nothing was created
        finally:
            flyte.init()


def test_a_local_run_of_an_image_without_an_engine_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", NO_ENGINE)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # whichever docker or podman client: no engine behind it
    flyte.init()
    with pytest.raises(DockerEngineUnavailableError, match=r"container task boxes\.boxed runs its image .* no container "
                                                           r"engine answers.*image='local'.*Nothing was run"):
        flyte.with_runcontext(mode="local").run(containers.boxed)


def test_bad_declarations_fail_at_declaration() -> None:
    with pytest.raises(ValueError, match=r"uses \{\{\.inputs\.who\}\} but the task has no input 'who'"):
        ContainerTask(name="t", image="local", command=["echo", "{{.inputs.who}}"])
    with pytest.raises(ValueError, match=r"cannot be of type 'list'"):
        ContainerTask(name="t", image="local", command=["true"], inputs={"xs": list})
    with pytest.raises(ValueError, match=r"input_data_dir must be an absolute directory"):
        ContainerTask(name="t", image="local", command=["true"], input_data_dir="relative/in")
    with pytest.raises(ValueError, match=r"name 'bad name' is not valid"):
        ContainerTask(name="t", image="local", command=["true"], outputs={"bad name": int})

"""A deployed task awaited inside a task (issue 13): on a backend a child action that runs the
registered code, typed as registered; in local mode a clear error. Real backend process."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from _deploy_helpers import _cli

import flyte_jupyter as flyte
from flyte_jupyter._internal.deploy.package import load_path

CALLEE = '''
import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="{env}")


@env.task
async def double(x: int, scale: int = 2) -> list[int]:
    return [x * scale, {marker}]
'''

CALLER = '''
import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="{env}")
deployed = flyte.remote.Task.get("{callee}", project={project!r}, domain="staging", version="v1")


@env.task
async def main(x: int) -> str:
    first = await deployed(x=x)
    again = await deployed(x, scale=10)
    return "caller:" + repr(first) + repr(again)
'''


def _module(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    path.write_text(text)
    return path


def test_a_deployed_task_awaited_in_a_task_runs_its_registered_code_as_a_child(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    callee = _module(tmp_path / "callee", "ref_callee", CALLEE.format(env="dref", marker=111))
    proc = _cli(flyte_backend, "deploy", str(callee), "--project", "p-ref", "--domain", "staging", "--version", "v1")
    assert proc.returncode == 0, proc.stderr
    _module(tmp_path / "callee", "ref_callee", CALLEE.format(env="dref", marker=999))  # the local file moves on

    caller = load_path(_module(tmp_path / "caller", "ref_caller",
                               CALLER.format(env="dcaller", callee="dref.double", project="p-ref")))[0]
    flyte.init_from_config(str(flyte_backend.client_yaml), project="p-ref", domain="staging")
    run = flyte.run(caller.main, x=4)
    assert run.outputs() == "caller:[8, 111][40, 111]"  # typed as registered (a list), the registered code
    children = [a for name, a in run.actions.items() if name != "a0"]
    assert sorted(a.task for a in children) == ["dref.double", "dref.double"]
    client = flyte_backend.client()
    for child in children:
        detail = asyncio.run(client.get_action(run.name, child.name, project="p-ref", domain="staging"))
        assert detail.task_version == "v1"  # the registered version ran

    # A re-run with the same inputs names the same children (deterministic), so the cache and a
    # retried parent find them; a different input makes a different child.
    assert flyte.run(caller.main, x=5).outputs() == "caller:[10, 111][50, 111]"

    # A fetched reference travels in a pickle (a notebook caller carries it in its bundle).
    import cloudpickle

    fetched = flyte.remote.Task.get("dref.double", project="p-ref", domain="staging", version="v1").fetch()
    assert cloudpickle.loads(cloudpickle.dumps(fetched)).version == "v1"

    # In local mode the deployed task cannot run: the error says what to do.
    with pytest.raises(Exception, match="needs a backend") as info:
        flyte.with_runcontext(mode="local").run(caller.main, x=1)
    assert "flyte.run(task" in str(info.value)


def test_a_deployed_task_of_another_project_is_refused_with_the_reason(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    callee = _module(tmp_path / "callee", "ref_other", CALLEE.format(env="dother", marker=1))
    assert _cli(flyte_backend, "deploy", str(callee), "--project", "p-refother", "--domain", "staging", "--version",
                "v1").returncode == 0
    caller = load_path(_module(tmp_path / "caller", "ref_caller2",
                               CALLER.format(env="dcaller2", callee="dother.double", project="p-refother")))[0]
    flyte.init_from_config(str(flyte_backend.client_yaml), project="p-refmain", domain="staging")
    with pytest.raises(flyte.errors.FlyteJupyterError, match="tasks of p-refother/staging|own project and domain"):
        flyte.run(caller.main, x=1).outputs()

"""Task types end to end: an unknown type is refused at CreateRun and at registration, an unknown
plugin config when the task is declared, a third-party plugin package works through its entry
points alone, and a pod template applies what it can on the embedded backend."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from plugin_flows import typeflows

import flyte_jupyter as flyte
from flyte_jupyter.errors import ActionFailedError, BackendError, DeploymentError, UnknownPluginConfigError

TESTS = Path(__file__).resolve().parents[1]


def test_an_unknown_task_type_is_refused_at_create_run(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(BackendError) as refused:
        flyte.with_runcontext(mode="remote").run(typeflows.on_spark, x=1)
    message = str(refused.value)
    assert "task type 'spark' has no executor plugin" in message
    for served in ("python (local)", "sql (sql)", "dask (dask)"):
        assert served in message
    assert "installed executor plugins:" in message and "kubernetes" in message


def test_an_unknown_task_type_is_refused_at_registration(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DeploymentError, match="task type 'spark' has no executor plugin"):
        flyte.deploy(typeflows.spark_env, version="v1")


def test_an_unknown_plugin_config_is_refused_when_the_task_is_declared() -> None:
    @dataclasses.dataclass
    class Ray:
        workers: int = 1

    env = flyte.TaskEnvironment(name="plugin_ray", plugin_config=Ray())
    with pytest.raises(UnknownPluginConfigError) as refused:
        @env.task
        def f() -> None: ...
    message = str(refused.value)
    assert "Ray has no task plugin registered" in message
    assert "flyte_jupyter.plugins.dask.Dask (dask)" in message and "typeflows.Spark (spark)" in message


def test_a_reusable_environment_cannot_take_a_plugin_config() -> None:
    with pytest.raises(ValueError, match="cannot take a plugin config"):
        flyte.TaskEnvironment(name="plugin_reuse", plugin_config=typeflows.Spark(), reusable=flyte.ReusePolicy())


def test_the_type_and_custom_config_travel_in_the_task_spec() -> None:
    from flyte_jupyter._internal.runtime.spec import CodeRef, task_spec

    spec = task_spec(typeflows.on_spark, CodeRef("tgz", "file:///b.tgz", "v1"), "p", "d")
    assert spec.type == "spark" and spec.custom_json == '{"executors": 3}'


def test_a_pod_template_applies_env_and_resources_and_says_what_it_ignored(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    run = flyte.with_runcontext(mode="remote").run(typeflows.env_seen)
    assert run.outputs() == "yes"
    logs = run.logs()
    notes = [line for line in logs if "ignored:" in line]
    assert len(notes) == 1, logs
    for field in ("pod_spec.containers[sidecar] (sidecar)", "pod_spec.nodeSelector", "labels"):
        assert field in notes[0]
    hog = flyte.with_runcontext(mode="remote").run(typeflows.hog)
    with pytest.raises(ActionFailedError, match="300Mi"):
        hog.outputs()


_SDK = '''
import dataclasses

from flyte_jupyter.extend import AsyncFunctionTaskTemplate, TaskPluginRegistry
from tinyplug.config import Shout


class ShoutTask(AsyncFunctionTaskTemplate):
    task_type = "shout"

    def custom_config(self, sctx):
        return {"suffix": self.plugin_config.suffix}


TaskPluginRegistry.register(Shout, ShoutTask)
'''

_BACKEND = '''
import dataclasses

from flyte_jupyter.backend.executor.plugin import ExecutorPlugin


class ShoutPlugin(ExecutorPlugin):
    """Runs the task's code through the python executor with its config in the environment."""

    name = "shout"
    task_types = ("shout",)

    def __init__(self, config):
        self.runner = config.runner

    async def launch(self, spec, on_status):
        env = {**spec.env, "SHOUT_SUFFIX": spec.custom["suffix"]}
        return await self.runner.launch(dataclasses.replace(spec, env=env, task_type="python"), on_status)

    async def abort(self, handle, spec, reason=""):
        await self.runner.abort(handle, spec, reason)

    def logs(self, spec, handle, follow=False):
        return self.runner.logs(spec, handle, follow)


def create_plugin(config):
    return ShoutPlugin(config)


create_plugin.task_types = ("shout",)
'''

_SCRIPT = '''
import sys
sys.path.insert(0, {tests!r})
from _backend_fixture import BackendProcess

import flyte_jupyter as flyte
from tinyplug.config import Shout

env = flyte.TaskEnvironment(name="shouty", plugin_config=Shout(suffix="!!"))


@env.task
async def shout(word: str) -> str:
    import os
    return word.upper() + os.environ["SHOUT_SUFFIX"]


print("TYPE", type(shout).__name__, shout.task_type)
with BackendProcess({data!r}) as backend:
    backend.use()
    print("RESULT", flyte.with_runcontext(mode="remote").run(shout, word="hi").outputs())
'''


def test_a_third_party_plugin_package_registers_itself_by_entry_points(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pkg = tmp_path / "tinyplug"
    (pkg / "tinyplug").mkdir(parents=True)
    (pkg / "pyproject.toml").write_text(textwrap.dedent('''
        [build-system]
        requires = ["hatchling"]
        build-backend = "hatchling.build"

        [project]
        name = "tinyplug"
        version = "0.1"

        [project.entry-points."flyte_jupyter.plugins"]
        tinyplug = "tinyplug.sdk"

        [project.entry-points."flyte_jupyter.executor_plugins"]
        tinyplug = "tinyplug.backend:create_plugin"
    '''))
    (pkg / "tinyplug" / "__init__.py").write_text("")
    (pkg / "tinyplug" / "config.py").write_text(
        "import dataclasses\n\n\n@dataclasses.dataclass\nclass Shout:\n    suffix: str = '!'\n")
    (pkg / "tinyplug" / "sdk.py").write_text(_SDK)
    (pkg / "tinyplug" / "backend.py").write_text(_BACKEND)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    env = {**os.environ, "PYTHONPATH": str(TESTS.parent)}
    subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", str(pkg)],
                   check=True, env=env, capture_output=True)
    script = tmp_path / "use_plugin.py"
    script.write_text(_SCRIPT.format(tests=str(TESTS), data=str(tmp_path / "backend")))
    done = subprocess.run([python, str(script)], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "TYPE ShoutTask shout" in done.stdout
    assert "RESULT HI!!" in done.stdout


def test_backend_status_lists_the_task_types_served(flyte_backend) -> None:  # type: ignore[no-untyped-def]
    done = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", "backend", "status", "--data-dir",
                           str(flyte_backend.data_dir)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "task types: dask (dask), python (local), raw-container (raw-container), sql (sql)" in done.stdout, done.stdout


def test_the_widget_tags_rows_of_other_types_than_python(tmp_path) -> None:
    from flyte_jupyter._internal.wire.models import ActionInfo, Phase
    from flyte_jupyter.kernel._links import type_tag_html
    from flyte_jupyter.kernel._tree import Entry, row_html

    sql = ActionInfo(name="a1", task="count", parent="a0", run_name="r", phase=Phase.RUNNING, task_type="sql")
    py = ActionInfo(name="a2", task="env.f", parent="a0", run_name="r", phase=Phase.RUNNING)
    assert ">sql</span>" in type_tag_html(sql) and type_tag_html(py) == ""
    (tmp_path / "links.json").write_text('{"Dask dashboard": "http://127.0.0.1:1/status", "bad": "javascript:x"}')
    dask = ActionInfo(name="a3", task="d.total", parent="a0", run_name="r", phase=Phase.RUNNING, task_type="dask",
                      outputs_uri=tmp_path.as_uri())
    tag = type_tag_html(dask)
    assert 'href="http://127.0.0.1:1/status"' in tag and "javascript" not in tag
    assert ">sql</span>" in row_html(Entry(key="a1", depth=1, info=sql))

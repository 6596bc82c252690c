"""Task-resource attributes per project and domain (issue 13), against a real backend process:
`flyte-jupyter admin resource-attributes update|get|delete` with Flyte's attribute file, defaults
filled into tasks that request nothing (at registration and at run time), limits checked at
registration and at every run, changes in effect without a restart, bad files refused whole."""

from __future__ import annotations

import asyncio
import json
import textwrap
from pathlib import Path

import pytest
from _deploy_helpers import _cli, _env_of, _listed, _write

import flyte_jupyter as flyte
from flyte_jupyter._deploy import deploy
from flyte_jupyter._internal.deploy.package import load_path
from flyte_jupyter.errors import DeploymentError
from flyte_jupyter.remote._task import Task

BARE = '''
import time

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="{env}")


@env.task
async def bare(mb: int = 0) -> str:
    """Requests nothing; holds `mb` MiB for a moment."""
    data = b"x" * (mb << 20)
    time.sleep(1.5 if mb else 0)
    return "{tag}:" + str(len(data) >> 20)


big = flyte.TaskEnvironment(name="{env}big", resources=flyte.Resources(memory="900Mi"), depends_on=[env])


@big.task
async def parent(mb: int = 0) -> str:
    """Asks for memory itself; its child asks for none."""
    return "parent " + await bare(mb=mb)
'''


def _bare(folder: Path, module: str, env: str, tag: str = "b") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{module}.py"
    path.write_text(BARE.format(env=env, tag=tag))
    return path


def _attr_file(folder: Path, text: str, name: str = "tra.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(text))
    return path


def _get(backend, project: str, domain: str = "staging") -> dict:  # type: ignore[no-untyped-def]
    proc = _cli(backend, "admin", "resource-attributes", "get", "--project", project, "--domain", domain)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_attributes_from_flytes_yaml_apply_at_registration_and_change_without_restart(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    tra = _attr_file(tmp_path, """\
        project: p-tra
        domain: staging
        defaults:
          cpu: 500m
          memory: 120Mi
        limits:
          cpu: 2
          memory: 500Mi
        """)
    proc = _cli(flyte_backend, "admin", "resource-attributes", "update", "--attr-file", str(tra))
    assert proc.returncode == 0, proc.stderr
    assert "p-tra/staging" in proc.stdout and '"memory": "120Mi"' in proc.stdout
    got = _get(flyte_backend, "p-tra")
    assert got["defaults"] == {"cpu": "500m", "memory": "120Mi"} and got["limits"] == {"cpu": "2", "memory": "500Mi"}
    assert got["limits_in_effect"]["memory"] == "500Mi"

    # Defaults fill what a task requests nothing of, recorded in the registered spec.
    flyte.init_from_config(str(flyte_backend.client_yaml), project="p-tra", domain="staging")
    bare_env = _env_of(_bare(tmp_path / "a", "tra_bare", "tbare"))
    deploy(bare_env, version="v1")
    assert Task.get("tbare.bare", project="p-tra", domain="staging", version="v1").resources == {
        "cpu": "500m", "memory": "120Mi"}
    proc = _cli(flyte_backend, "tasks", "get", "tbare.bare", "--project", "p-tra", "--domain", "staging")
    assert proc.returncode == 0 and "120Mi" in proc.stdout, proc.stdout
    # What a task asks for itself stays; over the limit is refused in Flyte's words, nothing stored.
    big = _env_of(_write(tmp_path / "b", "tra_big", env="tbig", tag="big", memory="1Gi"))
    with pytest.raises(DeploymentError, match=r"Requested MEMORY limit \[1Gi\] is greater than current limit set "
                                              r"in the platform configuration \[500Mi\]"):
        deploy(big, version="v1")
    assert ("tbig.main", "v1") not in _listed(flyte_backend, "p-tra")

    # A change applies at once: new defaults for what is registered next, the new limit checked at
    # the next registration and the next run of what is registered already.
    def update(text: str, name: str) -> None:
        proc = _cli(flyte_backend, "admin", "resource-attributes", "update", "--attr-file",
                    str(_attr_file(tmp_path, text, name)), "--project", "p-tra", "--domain", "staging")
        assert proc.returncode == 0, proc.stderr

    update("defaults: {memory: 64Mi}\nlimits: {memory: 500Mi}\n", "tra2.yaml")
    again = deploy(bare_env, version="v1")  # the same code again: still the same version, a no-op
    assert not any(t.created for t in again[0].tasks)
    assert Task.get("tbare.bare", project="p-tra", domain="staging", version="v1").resources["memory"] == "120Mi"
    deploy(_env_of(_bare(tmp_path / "c", "tra_bare2", "tbare2")), version="v1")
    assert Task.get("tbare2.bare", project="p-tra", domain="staging", version="v1").resources == {"memory": "64Mi"}
    update("defaults: {memory: 64Mi}\nlimits: {memory: 100Mi}\n", "tra3.yaml")
    proc = _cli(flyte_backend, "run", "--deployed", "tbare.bare", "--version", "v1", "--project", "p-tra",
                "--domain", "staging")
    assert proc.returncode == 1 and ("Requested MEMORY limit [120Mi] is greater than current limit set in the "
                                     "platform configuration [100Mi]") in proc.stderr, proc.stderr
    proc = _cli(flyte_backend, "run", "--deployed", "tbare2.bare", "--version", "v1", "--project", "p-tra",
                "--domain", "staging")
    assert proc.returncode == 0 and proc.stdout.strip().endswith("b:0"), proc.stderr

    # `admin limits set` is the same limits: it may not go under a default either.
    proc = _cli(flyte_backend, "admin", "limits", "set", "--project", "p-tra", "--domain", "staging", "--file",
                str(_attr_file(tmp_path, "memory: 32Mi\n", "lim.yaml")))
    assert proc.returncode == 1 and "default MEMORY [64Mi] is greater than its limit [32Mi]" in proc.stderr

    # get --attr-file writes a file update takes back; delete returns to the backend's own limits.
    out = tmp_path / "out.yaml"
    assert _cli(flyte_backend, "admin", "resource-attributes", "get", "--project", "p-tra", "--domain", "staging",
                "--attr-file", str(out)).returncode == 0
    assert _cli(flyte_backend, "admin", "resource-attributes", "update", "--attr-file", str(out)).returncode == 0
    proc = _cli(flyte_backend, "admin", "resource-attributes", "delete", "--project", "p-tra", "--domain", "staging")
    assert proc.returncode == 0 and "deleted" in proc.stdout
    got = _get(flyte_backend, "p-tra")
    assert got["defaults"] == {} and got["limits"] == {}
    assert deploy(big, version="v1")[0].tasks  # 1Gi is within the machine's own limit
    proc = _cli(flyte_backend, "admin", "resource-attributes", "delete", "--project", "p-tra", "--domain", "staging")
    assert proc.returncode == 0 and "were not set" in proc.stdout


def test_bad_attribute_files_are_refused_with_the_problem_named_and_nothing_stored(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    good = _attr_file(tmp_path, """\
        project: p-trabad
        domain: staging
        defaults: {memory: 100Mi}
        limits: {memory: 200Mi}
        """)
    assert _cli(flyte_backend, "admin", "resource-attributes", "update", "--attr-file", str(good)).returncode == 0
    before = _get(flyte_backend, "p-trabad")
    head = "project: p-trabad\ndomain: staging\n"
    bad = {
        "not yaml": (head + "defaults: {memory: [\n", "not valid YAML"),
        "not a mapping": ("- cpu\n- memory\n", "must be a YAML mapping"),
        "unknown key": (head + "default:\n  cpu: 1\n", "unknown key(s) ['default']"),
        "workflow": (head + "workflow: wf\ndefaults: {cpu: 1}\n", "per workflow are not supported"),
        "unknown resource": (head + "limits: {mem: 1Gi}\n", "unknown resource 'mem' in `limits`"),
        "cpu lots": (head + "defaults: {cpu: lots}\n", "cpu 'lots' is not a quantity"),
        "negative memory": (head + "limits: {memory: -1Gi}\n", "memory '-1Gi' is not a quantity"),
        "default over limit": (head + "defaults: {memory: 2Gi}\nlimits: {memory: 1Gi}\n",
                               "default MEMORY [2Gi] is greater than its limit [1Gi]"),
        "list value": (head + "defaults: {cpu: [1, 2]}\n", "defaults.cpu must be a quantity"),
        "bool value": (head + "limits: {gpu: yes}\n", "limits.gpu must be a quantity"),
        "half a gpu": (head + "limits: {gpu: 0.5}\n", "not a whole number of GPUs"),
        "no place": ("defaults: {cpu: 1}\n", "name the project and domain"),
        "bad project": ("project: Bad Project\ndomain: staging\n", "project 'Bad Project' is invalid"),
        "control chars": (head + "defaults: {memory: \"1Gi\\u0000\"}\n", "memory"),
    }
    for label, (text, expected) in bad.items():
        path = _attr_file(tmp_path / "bad", text, f"{label.replace(' ', '_')}.yaml")
        proc = _cli(flyte_backend, "admin", "resource-attributes", "update", "--attr-file", str(path))
        assert proc.returncode == 1, (label, proc.stdout)
        assert proc.stderr.startswith("error") and "Traceback" not in proc.stderr, (label, proc.stderr)
        assert expected in proc.stderr, (label, proc.stderr)
    proc = _cli(flyte_backend, "admin", "resource-attributes", "update", "--attr-file", str(good), "--project", "other")
    assert proc.returncode == 1 and "make them agree" in proc.stderr
    assert _get(flyte_backend, "p-trabad") == before


def test_defaults_apply_to_a_run_of_code_that_requests_nothing(flyte_backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The default is the memory the action runs with: over it, the local executor stops it."""
    asyncio.run(flyte_backend.client().update_resource_attributes("p-trarun", "staging", {"memory": "80Mi"},
                                                                  {"memory": "1Gi"}))
    module = load_path(_bare(tmp_path / "src", "tra_run", "trun", tag="ran"))[0]
    flyte.init_from_config(str(flyte_backend.client_yaml), project="p-trarun", domain="staging")
    run = flyte.run(module.bare, mb=200)
    with pytest.raises(flyte.errors.FlyteJupyterError, match="(?i)memory|oom"):
        run.wait(quiet=True)
        run.outputs()
    with pytest.raises(flyte.errors.FlyteJupyterError, match="(?i)memory|oom"):  # a child gets the default too
        flyte.run(module.parent, mb=200).outputs()
    assert flyte.run(module.parent, mb=1).outputs() == "parent ran:1"  # within the default, the child runs
    flyte.init_from_config(str(flyte_backend.client_yaml), project="p-tranone", domain="staging")
    assert flyte.run(module.bare, mb=200).outputs() == "ran:200"  # no default there: no limit but the machine's

"""The Tasks view's REST API (issue 13): tasks deployed with `flyte-jupyter deploy` to a real backend,
listed and read through the server extension, and launched from it with typed inputs: the
registered code runs (not the file as it is now), a value of the wrong type is refused naming the
field and its type with nothing started, and a backend refusal comes back in the backend's words."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from lab_helpers import deploy, on_jupyter_loop
from tornado.httpclient import HTTPClientError

PROJECT, DOMAIN = "launchpad", "staging"
TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}

MODULE = '''
import datetime
from typing import Optional

import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="launch", resources=flyte.Resources(cpu=1, memory="100Mi"))


@env.task(retries=1)
async def greet(name: str, times: int = 2, scale: float = 0.5, day: Optional[datetime.date] = None,
                tags: Optional[list[str]] = None) -> str:
    """Greets NAME, TIMES times ({tag})."""
    when = day.isoformat() if day else "any day"
    return "{tag}:" + " ".join([name] * times) + f" x{{scale}} on {{when}} {{tags or []}}"
'''


@pytest.fixture
def flyte_config(backend: Any) -> dict[str, Any]:
    return {"config_file": str(backend.client_yaml), "start_embedded": False, "project": PROJECT,
            "domain": DOMAIN}


@pytest.fixture(scope="module")
def deployed(backend: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """launch.greet deployed as v1, then changed on disk and deployed as v2; the file then changes
    again (a third text that is deployed nowhere)."""
    work = tmp_path_factory.mktemp("tasks")
    path = work / "launchmod.py"
    for version in ("v1", "v2"):
        path.write_text(MODULE.format(tag=version))
        deploy(backend.client_yaml, path, project=PROJECT, domain=DOMAIN, version=version, data_dir=work / "cli")
    path.write_text(MODULE.format(tag="local-edit"))
    return path


def _cli_rows(backend: Any, *args: str) -> Any:
    env = {**os.environ, "FLYTE_JUPYTER_CONFIG": str(backend.client_yaml)}
    done = subprocess.run([sys.executable, "-m", "flyte_jupyter.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


async def _json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch("flyte", "api", *parts, **kwargs)
    return json.loads(response.body) if response.body else None


async def _refused(jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", *parts, **kwargs)
    assert info.value.response is not None
    return info.value.code, json.loads(info.value.response.body)


async def _until_done(jp_fetch: Any, name: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = await _json(jp_fetch, "runs", name)
        if run["phase"] in TERMINAL:
            return run
        assert time.monotonic() < deadline, f"run {name} stuck in {run['phase']}"
        await asyncio.sleep(0.2)


async def _output(jp_fetch: Any, run: str) -> str:
    return str((await _json(jp_fetch, "runs", run, "actions", "a0"))["outputs"]["o0"])


@on_jupyter_loop
async def test_deployed_tasks_are_listed_newest_first_and_one_version_shows_its_interface(jp_fetch, deployed, backend):
    rows = (await _json(jp_fetch, "tasks"))["tasks"]
    assert [(r["name"], r["version"]) for r in rows] == [("launch.greet", "v2"), ("launch.greet", "v1")]
    assert {(r["project"], r["domain"]) for r in rows} == {(PROJECT, DOMAIN)}
    latest = (await _json(jp_fetch, "tasks", params={"latest": "1"}))["tasks"]
    assert [r["version"] for r in latest] == ["v2"]
    # the rows are exactly what `flyte-jupyter tasks list --json` prints
    assert rows == _cli_rows(backend, "tasks", "list", "--project", PROJECT, "--domain", DOMAIN, "--json")
    one = await _json(jp_fetch, "tasks", "launch.greet", params={"version": "v1"})
    assert one["version"] == "v1" and "(v1)" in one["docs"]
    assert [(i["name"], i["type"], i["has_default"], i["default"]) for i in one["inputs"]] == [
        ("name", "str", False, None), ("times", "int", True, "2"), ("scale", "float", True, "0.5"),
        ("day", "Optional[datetime.date]", True, "null"), ("tags", "Optional[list[str]]", True, "null")]
    assert one["output"] == "str"
    assert one["resources"] == {"cpu": "1", "memory": "100Mi"} and one["retries"] == 1
    assert "image" in one and one["created_by"] and one["created_at"] > 0  # no image: the backend's Python
    newest = await _json(jp_fetch, "tasks", "launch.greet")
    assert newest["version"] == "v2"
    # a scope of its own: another project has none
    assert (await _json(jp_fetch, "tasks", params={"project": "elsewhere"}))["tasks"] == []
    code, body = await _refused(jp_fetch, "tasks", "launch.nothing")
    assert code == 404 and "launch.nothing" in body["message"]


@on_jupyter_loop
async def test_launch_runs_the_registered_version_with_typed_inputs(jp_fetch, deployed):
    body = {"version": "v1", "inputs": {"name": "ada", "times": 3, "day": "2026-12-01", "tags": ["x"]}}
    run = await _json(jp_fetch, "tasks", "launch.greet", "runs", method="POST", body=json.dumps(body))
    assert run["task"] == "launch.greet" and run["task_version"] == "v1"
    assert run["project"] == PROJECT and run["domain"] == DOMAIN
    done = await _until_done(jp_fetch, run["name"])
    assert done["phase"] == "SUCCEEDED", done
    assert done["deployed"] == {"name": "launch.greet", "version": "v1", "project": PROJECT, "domain": DOMAIN}
    out = await _output(jp_fetch, run["name"])
    # v1's code, though the file on disk says "local-edit" now; the default of `scale` as registered
    assert "v1:ada ada ada x0.5 on 2026-12-01 ['x']" in out, out
    # no version: the newest; a run name of one's own
    body = {"inputs": {"name": "bo"}, "run_name": "greet-bo"}
    run = await _json(jp_fetch, "tasks", "launch.greet", "runs", method="POST", body=json.dumps(body))
    assert run["name"] == "greet-bo" and run["task_version"] == "v2"
    await _until_done(jp_fetch, "greet-bo")
    assert "v2:bo bo x0.5 on any day" in await _output(jp_fetch, "greet-bo")
    assert (await _json(jp_fetch, "runs", "greet-bo"))["deployed"]["version"] == "v2"


@on_jupyter_loop
async def test_a_run_of_local_code_is_not_called_deployed(jp_fetch, deployed, backend, tmp_path):
    (tmp_path / "localmod.py").write_text(MODULE.format(tag="mine"))
    script = ("import sys, json; sys.path.insert(0, %r); import flyte_jupyter as flyte, localmod\n"
              "run = flyte.with_runcontext(mode='remote', project=%r, domain=%r).run(localmod.greet, name='c')\n"
              "print(json.dumps({'name': run.name}))" % (str(tmp_path), PROJECT, DOMAIN))
    env = {**os.environ, "FLYTE_JUPYTER_CONFIG": str(backend.client_yaml)}
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    name = json.loads(done.stdout.strip().splitlines()[-1])["name"]
    run = await _until_done(jp_fetch, name)
    assert run["task"] == "launch.greet" and run["task_version"] and run["deployed"] is None


@on_jupyter_loop
async def test_values_of_the_wrong_type_are_refused_by_field_and_nothing_runs(jp_fetch, deployed):
    before = {r["name"] for r in (await _json(jp_fetch, "runs"))["runs"]}
    cases = [
        ({"name": "ada", "times": "three"}, "times", "int", "expects int, got str"),
        ({"name": "ada", "times": 2.5}, "times", "int", "expects int, got float"),
        ({"name": 7}, "name", "str", "expects str"),
        ({"name": "ada", "tags": ["a", 1]}, "tags", "Optional[list[str]]", "tags[1]"),
        ({"name": "ada", "day": "tuesday"}, "day", "Optional[datetime.date]", "ISO text"),
        ({"times": 2}, "name", "str", "is required"),
        ({"name": "ada", "colour": "red"}, "colour", "", "has no input 'colour'"),
    ]
    for inputs, field, expected, words in cases:
        code, body = await _refused(jp_fetch, "tasks", "launch.greet", "runs", method="POST",
                                    body=json.dumps({"version": "v1", "inputs": inputs}))
        assert code == 400, (inputs, body)
        assert body["field"] == field and body["expected"] == expected, (inputs, body)
        assert words in body["message"], (inputs, body)
    for bad, words in ((b'{"inputs": [1]}', "`inputs` must be an object"), (b'{"version": 3}', "`version` must be"),
                       (b'{"run_name": "a\\u0000b"}', "printable")):
        code, body = await _refused(jp_fetch, "tasks", "launch.greet", "runs", method="POST", body=bad)
        assert code == 400 and words in body["message"], body
    code, body = await _refused(jp_fetch, "tasks", "launch.greet", "runs", method="POST",
                                body=json.dumps({"version": "v9", "inputs": {"name": "a"}}))
    assert code == 404 and "v9" in body["message"]
    assert {r["name"] for r in (await _json(jp_fetch, "runs"))["runs"]} == before


@on_jupyter_loop
async def test_a_backend_refusal_comes_back_in_its_own_words(jp_fetch, deployed, backend):
    from flyte_jupyter._internal.client.grpc_client import BackendClient

    client = BackendClient.from_file(backend.client_yaml)
    await client.set_limits(PROJECT, DOMAIN, memory="50Mi")
    try:
        code, body = await _refused(jp_fetch, "tasks", "launch.greet", "runs", method="POST",
                                    body=json.dumps({"version": "v1", "inputs": {"name": "ada"}}))
        assert code == 400
        assert "Requested MEMORY limit [100Mi] is greater than current limit set in the platform configuration " \
               "[50Mi]" in body["message"], body
        taken = {"version": "v1", "inputs": {"name": "ada"}, "run_name": "greet-once"}
        await client.set_limits(PROJECT, DOMAIN, memory="1Gi")
        await _json(jp_fetch, "tasks", "launch.greet", "runs", method="POST", body=json.dumps(taken))
        code, body = await _refused(jp_fetch, "tasks", "launch.greet", "runs", method="POST", body=json.dumps(taken))
        assert code == 409 and "greet-once" in body["message"] and "already exists" in body["message"]
        await _until_done(jp_fetch, "greet-once")
    finally:
        await client.set_limits(PROJECT, DOMAIN, memory="1Gi")
        await client.close()


def test_json_has_no_dates_so_the_form_sends_iso_text_and_seconds() -> None:
    import datetime
    from typing import Optional

    from flyte_jupyter.server_ext._launch import LaunchInputError, _from_json

    assert _from_json("2026-12-01T12:30:00", datetime.datetime, "at", "datetime.datetime") == \
        datetime.datetime(2026, 12, 1, 12, 30)
    assert _from_json("2026-12-01", Optional[datetime.date], "day", "Optional[datetime.date]") == \
        datetime.date(2026, 12, 1)
    assert _from_json(90, datetime.timedelta, "wait", "datetime.timedelta") == datetime.timedelta(seconds=90)
    assert _from_json(None, Optional[datetime.date], "day", "Optional[datetime.date]") is None
    with pytest.raises(LaunchInputError) as info:
        _from_json("12/01/2026", datetime.date, "day", "datetime.date")
    assert info.value.field == "day" and "like 2026-12-01" in info.value.message

"""The runs API against a real backend: submit a saved notebook, follow it, read logs, abort,
re-run, and the websocket's live updates."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from lab_helpers import on_jupyter_loop
from tornado.httpclient import HTTPClientError

TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}

SLOW_CELLS = (
    "import time\nimport flyte_jupyter as flyte\nenv = flyte.TaskEnvironment(name='slow')",
    "@env.task\ndef sleepy(seconds: float = 60.0, ticks: int = 3) -> str:\n"
    "    for i in range(ticks):\n        print(f'tick {i}', flush=True)\n        time.sleep(0.3)\n"
    "    time.sleep(seconds)\n    return 'done'",
)


@pytest.fixture
def flyte_config(backend: Any) -> dict[str, Any]:
    return {"config_file": str(backend.client_yaml), "start_embedded": False}


async def _json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch("flyte", "api", *parts, **kwargs)
    return json.loads(response.body) if response.body else None


async def _submit(jp_fetch: Any, path: str, task: str, inputs: dict[str, Any]) -> dict[str, Any]:
    return await _json(jp_fetch, "runs", method="POST", body=json.dumps({"path": path, "task": task, "inputs": inputs}))


async def _until(jp_fetch: Any, name: str, done: Any, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = await _json(jp_fetch, "runs", name)
        if done(run):
            return run
        assert time.monotonic() < deadline, f"run {name} stuck in {run['phase']}: {run}"
        await asyncio.sleep(0.2)


async def _succeeded_root_log(jp_fetch: Any, path: str, task: str, inputs: dict[str, Any]) -> str:
    """Submit, wait for the run to end, check it SUCCEEDED, and return its root action's log."""
    run = await _submit(jp_fetch, path, task, inputs)
    done = await _until(jp_fetch, run["name"], lambda r: r["phase"] in TERMINAL)
    assert done["phase"] == "SUCCEEDED", done
    logs = await jp_fetch("flyte", "api", "runs", run["name"], "actions", "a0", "logs")
    return logs.body.decode().strip()


@on_jupyter_loop
async def test_submit_notebook_runs_its_task_with_children(jp_fetch, demo_notebook):
    run = await _submit(jp_fetch, demo_notebook, "main", {"n": 3})
    assert run["source"] == "binder_demo.ipynb"
    assert run["task"].endswith("main")
    done = await _until(jp_fetch, run["name"], lambda r: r["phase"] in TERMINAL)
    assert done["phase"] == "SUCCEEDED", done
    tasks = sorted(a["task"].rsplit(".", 1)[-1] for a in done["actions"])
    assert tasks == ["main", "square", "square", "square", "total"]
    root = next(a for a in done["actions"] if a["parent"] is None)
    assert root["name"] == "a0" and root["attempts"] == 1 and root["ended_at"] >= root["started_at"]
    assert all(a["parent"] == "a0" for a in done["actions"] if a is not root)

    listed = (await _json(jp_fetch, "runs"))["runs"]
    assert listed[0]["name"] == run["name"]  # newest first
    assert listed[0]["phase"] == "SUCCEEDED" and listed[0]["source"] == "binder_demo.ipynb"
    only_failed = (await _json(jp_fetch, "runs", params={"phase": "FAILED"}))["runs"]
    assert run["name"] not in [r["name"] for r in only_failed]

    square = next(a for a in done["actions"] if a["task"].endswith("square"))
    logs = await jp_fetch("flyte", "api", "runs", run["name"], "actions", square["name"], "logs")
    assert logs.headers["Content-Type"].startswith("text/plain")
    assert logs.body.decode().startswith("squaring ")
    root_logs = await jp_fetch("flyte", "api", "runs", run["name"], "actions", "a0", "logs")
    assert "squares: [0, 1, 4]" in root_logs.body.decode()

    total = next(a for a in done["actions"] if a["task"].endswith("total"))
    detail = await _json(jp_fetch, "runs", run["name"], "actions", total["name"])
    assert detail["name"] == total["name"] and detail["phase"] == "SUCCEEDED"
    assert detail["inputs"] == {"values": "[0, 1, 4]"}
    assert list(detail["outputs"].values()) == ["5"]
    root = await _json(jp_fetch, "runs", run["name"], "actions", "a0")
    assert root["inputs"] == {"n": "3"}


@on_jupyter_loop
async def test_follow_logs_stream_until_the_action_ends_and_abort(jp_fetch, write_notebook):
    path = write_notebook("slow.ipynb", *SLOW_CELLS)
    run = await _submit(jp_fetch, path, "sleepy", {"seconds": 1.0, "ticks": 3})
    await _until(jp_fetch, run["name"], lambda r: r["phase"] == "RUNNING" or r["phase"] in TERMINAL)
    chunks: list[str] = []
    await jp_fetch("flyte", "api", "runs", run["name"], "actions", "a0", "logs", params={"follow": "1"},
                   streaming_callback=lambda b: chunks.append(b.decode()), request_timeout=60)
    assert "".join(chunks).splitlines()[:3] == ["tick 0", "tick 1", "tick 2"]
    final = await _json(jp_fetch, "runs", run["name"])
    assert final["phase"] == "SUCCEEDED"  # the followed stream ended because the action did

    long = await _submit(jp_fetch, path, "sleepy", {"seconds": 120.0, "ticks": 1})
    await _until(jp_fetch, long["name"], lambda r: r["phase"] == "RUNNING")
    aborted = await _json(jp_fetch, "runs", long["name"], "abort", method="POST", body="{}")
    assert aborted["name"] == long["name"]
    final = await _until(jp_fetch, long["name"], lambda r: r["phase"] in TERMINAL, timeout=60)
    assert final["phase"] == "ABORTED"


@on_jupyter_loop
async def test_rerun_submits_the_same_task_and_inputs_again(jp_fetch, demo_notebook):
    first = await _submit(jp_fetch, demo_notebook, "square", {"x": 7})
    again = await _json(jp_fetch, "runs", first["name"], "rerun", method="POST", body="{}")
    assert again["name"] != first["name"]
    assert again["task"] == first["task"] and again["source"] == first["source"]
    done = await _until(jp_fetch, again["name"], lambda r: r["phase"] in TERMINAL)
    assert done["phase"] == "SUCCEEDED"
    logs = await jp_fetch("flyte", "api", "runs", again["name"], "actions", "a0", "logs")
    assert logs.body.decode().strip() == "squaring 7"


@pytest.mark.parametrize("body,status,words", [
    ({"path": "missing/nb.ipynb", "task": "main"}, 404, ["missing/nb.ipynb", "not found"]),
    ({"path": "binder_demo.ipynb", "task": "nope"}, 400, ["nope", "main", "square"]),
    ({"path": "binder_demo.ipynb", "task": "square", "inputs": {"x": "seven"}}, 400, ["x"]),
    ({"path": "binder_demo.ipynb", "task": "square", "inputs": {}}, 400, ["x"]),
])
@on_jupyter_loop
async def test_bad_submissions_get_a_clear_4xx(jp_fetch, demo_notebook, body, status, words):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "runs", method="POST", body=json.dumps(body))
    assert info.value.code == status
    message = json.loads(info.value.response.body)["message"]
    for word in words:
        assert word in message, message


@on_jupyter_loop
async def test_submitting_a_notebook_with_a_syntax_error_names_cell_and_line(jp_fetch, write_notebook):
    path = write_notebook("bad.ipynb", "import flyte_jupyter as flyte", "def f(:\n    pass")
    with pytest.raises(HTTPClientError) as info:
        await _submit(jp_fetch, path, "f", {})
    assert info.value.code == 400
    message = json.loads(info.value.response.body)["message"]
    assert "cell 2" in message and "line 1" in message


@on_jupyter_loop
async def test_unknown_run_is_404(jp_fetch):
    for parts in (("runs", "r-does-not-exist"), ("runs", "r-does-not-exist", "actions", "a0", "logs")):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("flyte", "api", *parts)
        assert info.value.code == 404
        assert "r-does-not-exist" in json.loads(info.value.response.body)["message"]


async def _next(ws: Any, want: Any, timeout: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, "no matching websocket message"
        text = await asyncio.wait_for(ws.read_message(), remaining)
        assert text is not None, "websocket closed"
        message = json.loads(text)
        if want(message):
            return message


@on_jupyter_loop
async def test_websocket_pushes_run_and_action_updates_with_one_watch_per_run(jp_fetch, jp_ws_fetch, jp_serverapp,
                                                                             write_notebook):
    path = write_notebook("slow.ipynb", *SLOW_CELLS)
    tab1 = await jp_ws_fetch("flyte", "api", "ws")
    tab2 = await jp_ws_fetch("flyte", "api", "ws")
    run = await _submit(jp_fetch, path, "sleepy", {"seconds": 1.5, "ticks": 1})
    name = run["name"]
    listed = await _next(tab1, lambda m: m["type"] == "run" and m["run"]["name"] == name)
    assert listed["run"]["source"] == "slow.ipynb"
    for tab in (tab1, tab2):
        tab.write_message(json.dumps({"watch": name}))
    hub = jp_serverapp.web_app.settings["flyte_updates_hub"]
    first = await _next(tab2, lambda m: m["type"] == "action")
    assert first["action"]["run_name"] == name and first["run"]["name"] == name
    assert hub.watcher_count() == 1  # two tabs, one backend watch
    for tab in (tab1, tab2):
        end = await _next(tab, lambda m: m["type"] == "action" and m["action"]["name"] == "a0"
                          and m["action"]["phase"] == "SUCCEEDED")
        assert end["run"]["phase"] == "SUCCEEDED"
    tab1.write_message(json.dumps({"unwatch": name}))
    tab2.close()
    deadline = time.monotonic() + 10
    while hub.watcher_count() and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert hub.watcher_count() == 0
    tab1.close()


FAILING_CELLS = (
    "import flyte_jupyter as flyte\nenv = flyte.TaskEnvironment(name='failing')\n"
    "cfg = flyte.init()  # a notebook's own init (local mode) must not redirect the panel's run",
    "@env.task\ndef explode(why: str = 'boom') -> int:\n    print('about to fail')\n    raise ValueError(why)",
    "@env.task\ndef main() -> int:\n    return explode(why='deep')",
)


@on_jupyter_loop
async def test_a_failing_run_reports_the_error_of_its_failed_action(jp_fetch, write_notebook):
    path = write_notebook("failing.ipynb", *FAILING_CELLS)
    run = await _submit(jp_fetch, path, "main", {})
    done = await _until(jp_fetch, run["name"], lambda r: r["phase"] in TERMINAL)
    assert done["phase"] == "FAILED"
    child = next(a for a in done["actions"] if a["task"].endswith("explode"))
    assert child["phase"] == "FAILED"
    assert child["error"]["kind"] == "ValueError" and "deep" in child["error"]["message"]
    assert done["error"] is not None
    failed = (await _json(jp_fetch, "runs", params={"phase": "FAILED"}))["runs"]
    assert run["name"] in [r["name"] for r in failed]


@on_jupyter_loop
async def test_project_and_domain_from_the_panel_settings_scope_the_runs(jp_fetch, demo_notebook):
    body = {"path": demo_notebook, "task": "square", "inputs": {"x": 2}, "project": "team-a", "domain": "staging"}
    run = await _json(jp_fetch, "runs", method="POST", body=json.dumps(body))
    assert (run["project"], run["domain"]) == ("team-a", "staging")
    scoped = (await _json(jp_fetch, "runs", params={"project": "team-a", "domain": "staging"}))["runs"]
    assert [r["name"] for r in scoped] == [run["name"]]
    default = (await _json(jp_fetch, "runs"))["runs"]
    assert run["name"] not in [r["name"] for r in default]
    got = await _json(jp_fetch, "runs", run["name"], params={"project": "team-a", "domain": "staging"})
    assert got["name"] == run["name"]


MAGIC_CELLS = (
    "%load_ext autoreload\n!echo shell lines are skipped\nimport flyte_jupyter as flyte\n"
    "env = flyte.TaskEnvironment(name='magic')\nfiles = !ls",
    "%%bash\necho a cell magic is not Python",
    "@env.task\ndef hello(who: str = 'world') -> str:\n    print(f'hello {who}')\n    return who",
    "r = flyte.run(hello, who='local')\nflyte.with_runcontext(mode='remote').run(hello, who='remote')\nr.outputs()",
)


@on_jupyter_loop
async def test_submitting_keeps_definitions_and_drops_magics_and_run_calls(jp_fetch, write_notebook):
    path = write_notebook("magic.ipynb", *MAGIC_CELLS)
    before = {r["name"] for r in (await _json(jp_fetch, "runs"))["runs"]}
    run = await _submit(jp_fetch, path, "hello", {"who": "panel"})
    done = await _until(jp_fetch, run["name"], lambda r: r["phase"] in TERMINAL)
    assert done["phase"] == "SUCCEEDED", done
    logs = await jp_fetch("flyte", "api", "runs", run["name"], "actions", "a0", "logs")
    assert logs.body.decode().strip() == "hello panel"
    after = {r["name"] for r in (await _json(jp_fetch, "runs"))["runs"]}
    assert after - before == {run["name"]}  # the notebook's own flyte.run(...) calls did not run


@on_jupyter_loop
async def test_modules_next_to_the_notebook_ship_with_the_run(jp_fetch, write_notebook, jp_root_dir):
    (jp_root_dir / "proj" / "shapes").mkdir(parents=True)
    (jp_root_dir / "proj" / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    (jp_root_dir / "proj" / "shapes" / "__init__.py").write_text("SIDES = {'square': 4}\n")
    path = write_notebook(
        "proj/uses_helpers.ipynb",
        "import flyte_jupyter as flyte\nfrom helpers import double\nfrom shapes import SIDES\n"
        "env = flyte.TaskEnvironment(name='helpers')",
        "@env.task\ndef perimeter(side: int) -> int:\n    p = double(side) * SIDES['square'] // 2\n"
        "    print(f'perimeter {p}')\n    return p",
    )
    assert await _succeeded_root_log(jp_fetch, path, "perimeter", {"side": 3}) == "perimeter 12"


@on_jupyter_loop
async def test_a_notebook_named_like_a_module_beside_it_keeps_that_module(jp_fetch, write_notebook, jp_root_dir):
    (jp_root_dir / "same").mkdir()
    (jp_root_dir / "same" / "helpers.py").write_text("def double(x):\n    return 2 * x\n")
    path = write_notebook(
        "same/helpers.ipynb",  # its module was helpers.py too, written over the real one
        "import flyte_jupyter as flyte\nfrom helpers import double\nenv = flyte.TaskEnvironment(name='same')",
        "@env.task\ndef twice(x: int) -> int:\n    print(f'twice {double(x)}')\n    return double(x)",
    )
    assert await _succeeded_root_log(jp_fetch, path, "twice", {"x": 4}) == "twice 8"


TYPED_CELLS = (
    "import dataclasses, datetime\nimport flyte_jupyter as flyte\nenv = flyte.TaskEnvironment(name='typed')",
    "@dataclasses.dataclass\nclass Point:\n    x: int\n    y: float",
    "@env.task\ndef describe(p: Point, tags: dict[str, int], day: datetime.date, words: list[str]) -> dict[str, float]:\n"
    "    return {'norm': (p.x ** 2 + p.y ** 2) ** 0.5, 'tags': float(len(tags))}",
    "@env.task\ndef main() -> dict[str, float]:\n"
    "    return describe(Point(3, 4.0), {'a': 1, 'b': 2}, datetime.date(2026, 11, 24), ['x'] * 20)",
)


@on_jupyter_loop
async def test_inputs_and_outputs_read_as_short_text(jp_fetch, write_notebook):
    path = write_notebook("typed.ipynb", *TYPED_CELLS)
    run = await _submit(jp_fetch, path, "main", {})
    done = await _until(jp_fetch, run["name"], lambda r: r["phase"] in TERMINAL)
    assert done["phase"] == "SUCCEEDED", done
    child = next(a for a in done["actions"] if a["task"].endswith("describe"))
    detail = await _json(jp_fetch, "runs", run["name"], "actions", child["name"])
    assert detail["inputs"]["p"] == "Point(x=3, y=4.0)"
    assert detail["inputs"]["tags"] == "{'a': 1, 'b': 2}"
    assert detail["inputs"]["day"] == "2026-11-24"
    assert detail["inputs"]["words"].startswith("['x', 'x'") and "(12 more)" in detail["inputs"]["words"]
    assert list(detail["outputs"].values()) == ["{'norm': 5.0, 'tags': 2.0}"]


DASK_CELLS = (
    "import time\nimport flyte_jupyter as flyte\nfrom flyte_jupyter.plugins.dask import Dask, WorkerGroup\n"
    "denv = flyte.TaskEnvironment(name='lab_dask', plugin_config=Dask(workers=WorkerGroup(number_of_workers=1)))",
    "@denv.task\nasync def crunch(seconds: float) -> int:\n    from distributed import Client\n"
    "    with Client() as client:\n        client.submit(time.sleep, seconds, pure=False).result()\n    return 1",
)


@on_jupyter_loop
async def test_a_running_dask_action_carries_its_dashboard_link(jp_fetch, jp_ws_fetch, write_notebook):
    """The panel's action JSON (the run, the action, the websocket's events) links the Dask
    dashboard while the action runs, and no longer once it ended."""
    pytest.importorskip("distributed")
    pytest.importorskip("bokeh")  # the scheduler serves its dashboard only with bokeh
    import urllib.request

    path = write_notebook("dask.ipynb", *DASK_CELLS)  # bundled as nb_dask: `dask` stays the package
    ws = await jp_ws_fetch("flyte", "api", "ws")
    run = await _submit(jp_fetch, path, "crunch", {"seconds": 120.0})
    name = run["name"]
    ws.write_message(json.dumps({"watch": name}))
    running = await _until(jp_fetch, name, lambda r: r["phase"] in TERMINAL or any(
        a["name"] == "a0" and a["links"] for a in r.get("actions", [])))
    a0 = next(a for a in running["actions"] if a["name"] == "a0")
    assert a0["phase"] == "RUNNING" and a0["task_type"] == "dask", a0
    url = a0["links"]["Dask dashboard"]
    assert url.startswith("http://127.0.0.1:")
    with urllib.request.urlopen(url, timeout=10) as page:  # the scheduler's own dashboard answers
        assert page.status == 200
    detail = await _json(jp_fetch, "runs", name, "actions", "a0")
    assert detail["links"] == {"Dask dashboard": url}
    event = await _next(ws, lambda m: m["type"] == "action" and m["action"]["name"] == "a0"
                        and m["action"]["phase"] == "RUNNING")
    assert event["action"]["links"] == {"Dask dashboard": url}

    await _json(jp_fetch, "runs", name, "abort", method="POST", body="{}")
    end = await _next(ws, lambda m: m["type"] == "action" and m["action"]["name"] == "a0"
                      and m["action"]["phase"] in TERMINAL)
    assert end["action"]["phase"] == "ABORTED" and end["action"]["links"] == {}  # the panel drops the link
    final = await _json(jp_fetch, "runs", name)
    assert [a["links"] for a in final["actions"] if a["name"] == "a0"] == [{}]
    ws.close()

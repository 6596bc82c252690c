"""Every run can be re-run, cloned with edited inputs and traced to where it came from (issue 18,
item 3; item 2's series): runs started the way the kernel starts them (a `%%flyte run` cell, a
named series, a task with inputs) against a real backend, then re-run and cloned through the REST
API; and the labels a run carries read into its origin."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from lab_helpers import on_jupyter_loop
from tornado.httpclient import HTTPClientError

from flyte_jupyter.server_ext._origins import CellIndex, origin_of, text_key

TERMINAL = {"SUCCEEDED", "FAILED", "ABORTED", "TIMED_OUT"}
CELL = "flyte-jupyter/cell"
SERIES = "flyte-jupyter/series"
NOTEBOOK = "flyte-jupyter/notebook"

SWEEP_MODULE = '''
import flyte_jupyter as flyte

env = flyte.TaskEnvironment(name="sweep")


@env.task
def trial(lr: float, i: int, tags: list[str], note: str = "") -> float:
    print(f"trial lr={lr} i={i} tags={tags} note={note}", flush=True)
    return lr * i
'''


@pytest.fixture
def flyte_config(backend: Any) -> dict[str, Any]:
    return {"config_file": str(backend.client_yaml), "start_embedded": False}


def _kernel_like_submit(backend: Any, workdir: Path, code: str) -> str:
    """Submit a run from a child process as the kernel does (the SDK's remote path, with the labels
    the kernel sets); `code` binds `run`. Returns the run's name."""
    script = textwrap.dedent('''
        import json, sys
        sys.path.insert(0, {workdir!r})
        import flyte_jupyter as flyte
    ''').format(workdir=str(workdir)) + textwrap.dedent(code) + "\nprint(json.dumps({'name': run.name}))\n"
    env = {**os.environ, "FLYTE_JUPYTER_CONFIG": str(backend.client_yaml)}
    done = subprocess.run([sys.executable, "-c", script], cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])["name"]


async def _json(jp_fetch: Any, *parts: str, **kwargs: Any) -> Any:
    response = await jp_fetch("flyte", "api", *parts, **kwargs)
    return json.loads(response.body) if response.body else None


async def _until_done(jp_fetch: Any, name: str, timeout: float = 120.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        run = await _json(jp_fetch, "runs", name)
        if run["phase"] in TERMINAL:
            return run
        assert time.monotonic() < deadline, f"run {name} stuck in {run['phase']}"
        await asyncio.sleep(0.2)


async def _log(jp_fetch: Any, run: str, action: str = "a0", **params: str) -> str:
    response = await jp_fetch("flyte", "api", "runs", run, "actions", action, "logs", params=params)
    return response.body.decode()


def _notebook_with_cell(root: Path, name: str, cell_id: str, body: str) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# Sweep"), nbformat.v4.new_code_cell("import flyte_jupyter as flyte"),
                nbformat.v4.new_code_cell(body)]
    nb.cells[2].id = cell_id
    path = root / name
    nbformat.write(nb, str(path))
    return path


@on_jupyter_loop
async def test_a_cell_run_records_its_cell_and_is_rerun_as_the_next_of_its_series(
        jp_fetch, backend, jp_root_dir, tmp_path):
    body = "%%flyte run --name answer\nprint('the cell says hi')\n6 * 7"
    nb_path = _notebook_with_cell(jp_root_dir, "work.ipynb", "cell-abc", body)
    name = _kernel_like_submit(backend, tmp_path, f'''
        from flyte_jupyter.kernel._cell import build_cell_task
        task = build_cell_task(None, "print('the cell says hi')\\n6 * 7")
        labels = {{{CELL!r}: "cell-abc", {SERIES!r}: "answer", {NOTEBOOK!r}: {str(nb_path)!r}}}
        run = flyte.with_runcontext(mode="remote", name="answer", source="notebook", labels=labels).run(task)
    ''')
    assert name == "answer"
    done = await _until_done(jp_fetch, name)
    assert done["phase"] == "SUCCEEDED", done
    # where it came from: the notebook (as an API path, though the kernel names it by its path on
    # disk), its cell (by id) and where that cell is now
    origin = done["origin"]
    assert origin["kind"] == "cell" and origin["notebook"] == "work.ipynb"
    assert origin["notebook_name"] == "work.ipynb" and origin["cell"] == "cell-abc"
    assert origin["cell_number"] == 3  # the markdown cell counts, as the user sees it
    assert done["series"] == "answer" and done["can_rerun"] is True
    listed = next(r for r in (await _json(jp_fetch, "runs"))["runs"] if r["name"] == name)
    assert listed["origin"]["cell_number"] == 3

    # the form a re-run would use: a cell takes no inputs
    form = await _json(jp_fetch, "runs", name, "rerun")
    assert form["how"] == "stored" and form["inputs"] == [] and form["task"] == "notebook.cell"

    # re-run: the stored cell runs again under the next free name of its series
    again = await _json(jp_fetch, "runs", name, "rerun", method="POST", body="{}")
    assert again["name"] == "answer-2"
    assert again["origin"]["rerun_of"] == "answer" and again["series"] == "answer"
    assert again["origin"]["cell"] == "cell-abc" and again["origin"]["notebook"] == "work.ipynb"
    done2 = await _until_done(jp_fetch, again["name"])
    assert done2["phase"] == "SUCCEEDED"
    assert "the cell says hi" in await _log(jp_fetch, again["name"])
    third = await _json(jp_fetch, "runs", again["name"], "rerun", method="POST", body="{}")
    assert third["name"] == "answer-3"
    await _until_done(jp_fetch, third["name"])


@on_jupyter_loop
async def test_a_task_run_is_cloned_with_edited_inputs_encoded_like_the_stored_ones(jp_fetch, backend, tmp_path):
    (tmp_path / "sweep_mod.py").write_text(SWEEP_MODULE)
    name = _kernel_like_submit(backend, tmp_path, '''
        import sweep_mod
        run = flyte.with_runcontext(mode="remote", source="notebook").run(
            sweep_mod.trial, lr=0.05, i=4, tags=["a", "b"], note="first")
    ''')
    first = await _until_done(jp_fetch, name)
    assert first["phase"] == "SUCCEEDED" and first["can_rerun"] is True
    assert first["origin"]["kind"] == "notebook"

    form = await _json(jp_fetch, "runs", name, "rerun")
    assert form["how"] == "stored"
    fields = {f["name"]: f for f in form["inputs"]}
    assert [f["name"] for f in form["inputs"]] == ["lr", "i", "tags", "note"]  # the task's own order
    assert (fields["lr"]["value"], fields["lr"]["type"], fields["lr"]["required"]) == ("0.05", "float", True)
    assert json.loads(fields["tags"]["value"]) == ["a", "b"] and fields["tags"]["editable"]
    assert fields["note"]["required"] is False

    clone = await _json(jp_fetch, "runs", name, "rerun", method="POST",
                        body=json.dumps({"inputs": {"lr": 0.5, "i": 2, "tags": ["z"]}}))
    assert clone["name"] != name and clone["origin"]["rerun_of"] == name
    await _until_done(jp_fetch, clone["name"])
    assert "trial lr=0.5 i=2 tags=['z'] note=first" in await _log(jp_fetch, clone["name"])
    detail = await _json(jp_fetch, "runs", clone["name"], "actions", "a0")
    assert detail["inputs"]["lr"] == "0.5" and detail["outputs"] == {"o0": "1.0"}

    # a value that does not fit is refused, naming the input and what it should look like; no run starts
    before = {r["name"] for r in (await _json(jp_fetch, "runs"))["runs"]}
    for edits, words in (({"i": "four"}, ["'i'", "whole number"]), ({"tags": [1]}, ["'tags'", "strings"]),
                         ({"nope": 1}, ["'nope'", "lr"])):
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("flyte", "api", "runs", name, "rerun", method="POST", body=json.dumps({"inputs": edits}))
        assert info.value.code == 400
        message = json.loads(info.value.response.body)["message"]
        assert all(w in message for w in words), message
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "runs", name, "rerun", method="POST", body=json.dumps({"inputs": [1]}))
    assert info.value.code == 400
    assert {r["name"] for r in (await _json(jp_fetch, "runs"))["runs"]} == before


@on_jupyter_loop
async def test_a_panel_run_is_cloned_from_its_notebook_with_edited_inputs(jp_fetch, demo_notebook):
    body = json.dumps({"path": demo_notebook, "task": "square", "inputs": {"x": 7}})
    first = await _json(jp_fetch, "runs", method="POST", body=body)
    form = await _json(jp_fetch, "runs", first["name"], "rerun")
    assert form["how"] == "notebook"
    assert [(f["name"], f["value"], f["editable"]) for f in form["inputs"]] == [("x", "7", True)]
    clone = await _json(jp_fetch, "runs", first["name"], "rerun", method="POST", body=json.dumps({"inputs": {"x": 9}}))
    assert clone["source"] == demo_notebook and clone["origin"]["rerun_of"] == first["name"]
    await _until_done(jp_fetch, clone["name"])
    assert (await _log(jp_fetch, clone["name"])).strip() == "squaring 9"


@on_jupyter_loop
async def test_action_labels_name_each_action_by_a_short_form_of_its_inputs(jp_fetch, demo_notebook):
    run = await _json(jp_fetch, "runs", method="POST",
                      body=json.dumps({"path": demo_notebook, "task": "main", "inputs": {"n": 3}}))
    done = await _until_done(jp_fetch, run["name"])
    labels = (await _json(jp_fetch, "runs", run["name"], "labels"))["labels"]
    by_task = sorted(labels[a["name"]] for a in done["actions"])
    assert by_task == ["main(n=3)", "square(x=0)", "square(x=1)", "square(x=2)", "total(values=[0, 1, 4])"]
    some = next(a["name"] for a in done["actions"] if a["name"] != "a0")
    only = (await _json(jp_fetch, "runs", run["name"], "labels", params={"actions": some}))["labels"]
    assert list(only) == [some]


def test_origin_is_read_defensively_from_whatever_labels_a_run_has(tmp_path):
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    kernel = {"source": "notebook", CELL: "c1", SERIES: "sweep", NOTEBOOK: str(root / "dir" / "nb.ipynb")}
    got = origin_of(kernel, "notebook.cell", str(root))
    assert got["kind"] == "cell" and got["notebook"] == "dir/nb.ipynb" and got["cell"] == "c1"
    assert got["series"] == "sweep" and got["panel"] is False
    # a notebook of another machine (or outside the root): named, but not openable
    elsewhere = origin_of({**kernel, NOTEBOOK: "/elsewhere/other.ipynb"}, "sweep.trial", str(root))
    assert elsewhere["kind"] == "notebook" and elsewhere["notebook"] is None
    assert elsewhere["notebook_name"] == "other.ipynb"
    # an API path, the panel's labels, a script, nothing, and rubbish
    assert origin_of({NOTEBOOK: "dir/nb.ipynb"}, "t", str(root))["notebook"] == "dir/nb.ipynb"
    panel = origin_of({"source": "dir/nb.ipynb", "task": "square", "inputs": "{}"}, "demo.square", str(root))
    assert panel["panel"] and panel["notebook"] == "dir/nb.ipynb" and panel["kind"] == "notebook"
    assert origin_of({"source": "/jobs/train.py"}, "t.t", str(root))["kind"] == "script"
    assert origin_of({}, "t.t", str(root))["kind"] == "unknown"
    for junk in ({NOTEBOOK: "../../etc/passwd"}, {NOTEBOOK: "\x00"}, {NOTEBOOK: "x" * 10000}, {CELL: ""}):
        assert origin_of(junk, "t.t", str(root))["notebook"] is None


def test_a_cell_is_found_by_id_or_by_the_digest_of_its_text(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("intro"), nbformat.v4.new_code_cell("x = 1"),
                nbformat.v4.new_code_cell("%%flyte run\nx + 1")]
    nb.cells[1].id = "first-code"
    path = tmp_path / "nb.ipynb"
    nbformat.write(nb, str(path))
    index = CellIndex()
    assert index.position(path, "first-code") == 2
    assert index.position(path, text_key("%%flyte run\nx + 1")) == 3
    assert index.position(path, "nope") is None and index.position(tmp_path / "missing.ipynb", "first-code") is None
    nb.cells.insert(0, nbformat.v4.new_code_cell("import os"))
    time.sleep(0.01)
    nbformat.write(nb, str(path))
    assert index.position(path, "first-code") == 3  # read again after the file changed

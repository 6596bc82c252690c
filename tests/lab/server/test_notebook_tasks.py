"""GET /flyte/api/notebook-tasks: the tasks a saved notebook defines, read without running it."""

from __future__ import annotations

import json

import pytest
from lab_helpers import on_jupyter_loop
from tornado.httpclient import HTTPClientError

DEMO_CELLS = (
    "%pip install --quiet something\nimport flyte_jupyter as flyte\nenv = flyte.TaskEnvironment(name='demo')",
    "@env.task\ndef square(x: int, scale: float = 1.5) -> float:\n    '''Square x, then scale it.'''\n    return x * x * scale",
    "@env.task(retries=1)\nasync def main(n: int = 3, *, tag: str = 'a', flags: list[int] = [1, 2]) -> list[float]:\n"
    "    return [square(i) for i in range(n)]",
    "plain = 1\ndef helper(y):\n    return y",
    "run = flyte.run(main, n=2)\nrun",
)


@on_jupyter_loop
async def test_lists_decorated_functions_with_inputs(jp_fetch, write_notebook):
    path = write_notebook("work/demo.ipynb", *DEMO_CELLS, markdown="# Demo")
    response = await jp_fetch("flyte", "api", "notebook-tasks", params={"path": path})
    body = json.loads(response.body)
    assert body["path"] == "work/demo.ipynb"
    tasks = {t["name"]: t for t in body["tasks"]}
    assert list(tasks) == ["square", "main"]
    square = tasks["square"]
    assert square["environment"] == "env"
    assert square["doc"] == "Square x, then scale it."
    assert square["cell"] == 3  # the markdown cell counts: positions match what the user sees
    assert square["inputs"] == [
        {"name": "x", "type": "int", "default": None, "required": True},
        {"name": "scale", "type": "float", "default": "1.5", "required": False},
    ]
    assert [(i["name"], i["type"], i["default"]) for i in tasks["main"]["inputs"]] == [
        ("n", "int", "3"), ("tag", "str", "'a'"), ("flags", "list[int]", "[1, 2]"),
    ]


@on_jupyter_loop
async def test_missing_notebook_is_404_naming_the_path(jp_fetch):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "notebook-tasks", params={"path": "nowhere/missing.ipynb"})
    assert info.value.code == 404
    message = json.loads(info.value.response.body)["message"]
    assert "nowhere/missing.ipynb" in message and "not found" in message


@on_jupyter_loop
async def test_syntax_error_is_400_naming_cell_and_line(jp_fetch, write_notebook):
    path = write_notebook("broken.ipynb", "import os", "x = 1\ny = (2 +\n", markdown="intro")
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "notebook-tasks", params={"path": path})
    assert info.value.code == 400
    message = json.loads(info.value.response.body)["message"]
    assert "broken.ipynb" in message and "cell 3" in message and "line 2" in message


@on_jupyter_loop
async def test_path_outside_the_root_is_refused(jp_fetch):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "notebook-tasks", params={"path": "../../etc/passwd"})
    assert info.value.code == 404


@on_jupyter_loop
async def test_path_is_required(jp_fetch):
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("flyte", "api", "notebook-tasks")
    assert info.value.code == 400
    assert "path" in json.loads(info.value.response.body)["message"]

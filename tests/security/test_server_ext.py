"""The Jupyter server extension does not dial what a browser names, and a hostile notebook is a 4xx.

- `?endpoint=` (or `endpoint` in a JSON body, or on the websocket) naming any backend but the
  server's own is refused with a 403 that names `allowed_endpoints`, before anything is dialled,
  read or submitted; a backend the server's config lists there is reachable.
- A notebook with a 300,000-term expression is a 400 naming the cell, not a RecursionError 500;
  notebooks over the size and cell limits are refused with a 413 naming the trait.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time
from pathlib import Path
from typing import Any, Callable, Iterator

import _jupyter_loop
import nbformat
import pytest
from _backend_fixture import BackendProcess
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403  (jp_fetch, jp_ws_fetch, jp_serverapp, ...)
from tornado.httpclient import HTTPClientError

jp_asyncio_loop = _jupyter_loop.jp_asyncio_loop  # replaces pytest-jupyter's: the current loop (see there)

TASK_CELLS = (
    "import flyte_jupyter as flyte\nenv = flyte.TaskEnvironment(name='sec')",
    "@env.task\ndef square(x: int) -> int:\n    return x * x",
)

DEEP_TERMS = 300_000


# -- fixtures ---------------------------------------------------------------------------------------


@pytest.fixture
def manager_config() -> dict[str, Any]:
    """c.BackendRunsManager traits of the server under test; classes below override it."""
    return {"start_embedded": False}


@pytest.fixture
def jp_server_config(manager_config: dict[str, Any]) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"flyte_jupyter.server_ext": True},
                      "allow_unauthenticated_access": False},
        "BackendRunsManager": manager_config,
    }


@pytest.fixture
def write_notebook(jp_root_dir: Path) -> Callable[..., str]:
    def write(name: str, *cells: str) -> str:
        nb = nbformat.v4.new_notebook()
        nb.cells.extend(nbformat.v4.new_code_cell(c) for c in cells)
        nbformat.write(nb, str(jp_root_dir / name))
        return name

    return write


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A port that records whether anything connected to it: the host a forged request names."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    yield sock
    sock.close()


@pytest.fixture(scope="module")
def other_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendProcess]:
    """A second backend, reachable only when the server's config allows it."""
    backend = BackendProcess(tmp_path_factory.mktemp("other-backend"))
    with backend:
        yield backend


def _dialled(sock: socket.socket) -> bool:
    time.sleep(0.3)  # a channel connects in the background: give it the time to
    try:
        conn, _ = sock.accept()
    except BlockingIOError:
        return False
    conn.close()
    return True


def _runs(backend: BackendProcess) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(str(backend.data_dir / "state.db"), timeout=10)
    try:
        return sorted(conn.execute("SELECT project, domain, name FROM runs"))
    finally:
        conn.close()


def _fetch(loop: Any, jp_fetch: Any, *parts: str, **kwargs: Any) -> tuple[int, Any]:
    """(status, JSON body) of a request, 4xx and 5xx included."""
    kwargs.setdefault("request_timeout", 60)
    try:
        response = loop.run_until_complete(jp_fetch("flyte", "api", *parts, **kwargs))
    except HTTPClientError as err:
        response = err.response
        assert response is not None, err
    body = response.body.decode(errors="replace")
    try:
        return response.code, json.loads(body) if body else None
    except json.JSONDecodeError:
        return response.code, body


def _requests(notebook: str, endpoint: str) -> list[tuple[str, tuple[str, ...], dict[str, Any]]]:
    """Every REST handler, naming `endpoint` the way the panel sends it (query, or JSON body)."""
    query = {"params": {"endpoint": endpoint}}
    body = {"endpoint": endpoint}
    return [
        ("list runs", ("runs",), query),
        ("submit", ("runs",), {"method": "POST", "body": json.dumps(
            {"path": notebook, "task": "square", "inputs": {"x": 3}, **body})}),
        ("get run", ("runs", "r-1"), query),
        ("abort", ("runs", "r-1", "abort"), {"method": "POST", "body": json.dumps(body)}),
        ("rerun", ("runs", "r-1", "rerun"), {"method": "POST", "body": json.dumps(body)}),
        ("action", ("runs", "r-1", "actions", "a0"), query),
        ("logs", ("runs", "r-1", "actions", "a0", "logs"), query),
        ("follow logs", ("runs", "r-1", "actions", "a0", "logs"), {"params": {"endpoint": endpoint, "follow": "1"}}),
        ("notebook tasks", ("notebook-tasks",), {"params": {"endpoint": endpoint, "path": notebook}}),
        ("labels", ("runs", "r-1", "labels"), query),
        ("timeline", ("runs", "r-1", "timeline"), query),
        ("status", ("status",), query),
        ("list tasks", ("tasks",), query),
        ("get task", ("tasks", "square"), query),
        ("launch task", ("tasks", "square", "runs"), {"method": "POST", "body": json.dumps(
            {"version": "v1", "inputs": {"x": 3}, **body})}),
        ("list triggers", ("triggers",), query),
        ("pause trigger", ("triggers", "t-1", "pause"), {"method": "POST", "body": json.dumps(body)}),
        ("resume trigger", ("triggers", "t-1", "resume"), {"method": "POST", "body": json.dumps(body)}),
    ]


# -- the endpoint comes from the server's config ------------------------------------------------------


class TestEndpointForgery:
    @pytest.fixture
    def manager_config(self, flyte_backend_process: BackendProcess) -> dict[str, Any]:
        return {"config_file": str(flyte_backend_process.client_yaml), "start_embedded": False}

    def test_every_rest_handler_refuses_another_endpoint(self, jp_fetch, jp_asyncio_loop, write_notebook,
                                                         listener, flyte_backend_process):
        notebook = write_notebook("ok.ipynb", *TASK_CELLS)
        forged = "127.0.0.1:%d" % listener.getsockname()[1]
        before = _runs(flyte_backend_process)
        for what, parts, kwargs in _requests(notebook, forged):
            status, body = _fetch(jp_asyncio_loop, jp_fetch, *parts, **kwargs)
            assert status == 403, (what, status, body)
            assert "allowed_endpoints" in body["message"] and forged in body["message"], (what, body)
        assert not _dialled(listener), "a refused request connected to the endpoint it named"
        assert _runs(flyte_backend_process) == before, "a refused submission created a run"

    @pytest.mark.parametrize("forged", ["evil.example:443", "10.0.0.1:80", " 127.0.0.1:1 ", "dns:///x:1",
                                        "unix:/var/run/docker.sock", "a%s%%(x)sb", "x" * 5000])
    def test_any_other_spelling_is_refused(self, jp_fetch, jp_asyncio_loop, forged):
        status, body = _fetch(jp_asyncio_loop, jp_fetch, "runs", params={"endpoint": forged})
        assert status == 403, body
        assert "allowed_endpoints" in body["message"]
        assert forged.strip()[:150] in body["message"]  # named as sent, "%" included

    def test_the_websocket_refuses_another_endpoint(self, jp_ws_fetch, jp_serverapp, jp_asyncio_loop, listener):
        forged = "127.0.0.1:%d" % listener.getsockname()[1]
        with pytest.raises(HTTPClientError) as info:
            jp_asyncio_loop.run_until_complete(jp_ws_fetch("flyte", "api", "ws", params={"endpoint": forged}))
        assert info.value.code == 403
        hub = jp_serverapp.web_app.settings["flyte_updates_hub"]
        assert not hub._lists and not hub._runs, "a refused socket started a watch"
        assert not _dialled(listener)

    def test_the_servers_own_backend_may_be_named(self, jp_fetch, jp_ws_fetch, jp_asyncio_loop,
                                                  flyte_backend_process):
        own = flyte_backend_process.endpoint
        status, body = _fetch(jp_asyncio_loop, jp_fetch, "runs", params={"endpoint": own})
        assert status == 200, body
        status, body = _fetch(jp_asyncio_loop, jp_fetch, "runs")  # the panel's default: no endpoint
        assert status == 200, body
        ws = jp_asyncio_loop.run_until_complete(jp_ws_fetch("flyte", "api", "ws", params={"endpoint": own}))
        ws.close()


class TestAllowList:
    @pytest.fixture
    def manager_config(self, flyte_backend_process: BackendProcess, other_backend: BackendProcess) -> dict[str, Any]:
        return {"config_file": str(flyte_backend_process.client_yaml), "start_embedded": False,
                "allowed_endpoints": [str(other_backend.client_yaml)]}

    def test_an_allowed_backend_is_reached_with_its_token(self, jp_fetch, jp_ws_fetch, jp_asyncio_loop,
                                                          write_notebook, flyte_backend_process, other_backend):
        notebook = write_notebook("ok.ipynb", *TASK_CELLS)
        own_before = _runs(flyte_backend_process)
        body = {"path": notebook, "task": "square", "inputs": {"x": 4}, "endpoint": other_backend.endpoint}
        status, run = _fetch(jp_asyncio_loop, jp_fetch, "runs", method="POST", body=json.dumps(body),
                             request_timeout=180)
        assert status == 201, run
        assert run["name"] in [name for _, _, name in _runs(other_backend)]
        assert _runs(flyte_backend_process) == own_before
        status, listed = _fetch(jp_asyncio_loop, jp_fetch, "runs", params={"endpoint": other_backend.endpoint})
        assert status == 200 and run["name"] in [r["name"] for r in listed["runs"]]
        status, listed = _fetch(jp_asyncio_loop, jp_fetch, "runs")
        assert status == 200 and run["name"] not in [r["name"] for r in listed["runs"]]
        ws = jp_asyncio_loop.run_until_complete(
            jp_ws_fetch("flyte", "api", "ws", params={"endpoint": other_backend.endpoint}))
        ws.close()

    def test_endpoints_not_on_the_list_are_still_refused(self, jp_fetch, jp_asyncio_loop):
        status, body = _fetch(jp_asyncio_loop, jp_fetch, "runs", params={"endpoint": "127.0.0.1:9"})
        assert status == 403 and "c.BackendRunsManager.allowed_endpoints" in body["message"]


class TestAllowedAddress:
    """An address entry (no client.yaml) lets the server dial it, without a token."""

    @pytest.fixture
    def manager_config(self, flyte_backend_process: BackendProcess, other_backend: BackendProcess) -> dict[str, Any]:
        return {"config_file": str(flyte_backend_process.client_yaml), "start_embedded": False,
                "allowed_endpoints": [other_backend.endpoint]}

    def test_an_allowed_address_is_dialled(self, jp_fetch, jp_asyncio_loop, other_backend):
        status, body = _fetch(jp_asyncio_loop, jp_fetch, "runs", params={"endpoint": other_backend.endpoint})
        assert status == 401 and "token" in body["message"], body  # reached: the backend wants its token


# -- hostile notebooks ----------------------------------------------------------------------------------


def _deep_cell() -> str:
    return "x = " + " + ".join(["1"] * DEEP_TERMS)


class TestNotebooks:
    def test_a_300000_term_expression_is_a_400_naming_the_cell(self, jp_fetch, jp_asyncio_loop, write_notebook):
        path = write_notebook("deep.ipynb", *TASK_CELLS, _deep_cell())
        for parts, kwargs in (
            (("notebook-tasks",), {"params": {"path": path}}),
            (("runs",), {"method": "POST", "body": json.dumps({"path": path, "task": "square", "inputs": {"x": 1}})}),
        ):
            status, body = _fetch(jp_asyncio_loop, jp_fetch, *parts, **kwargs)
            assert status == 400, body
            assert "deep.ipynb" in body["message"] and "cell 3" in body["message"], body
            assert "nested too deeply" in body["message"], body

    @pytest.mark.parametrize("cell,words", [
        ("x = 1\0", ["cell 1", "null"]),
        ("@env.task\ndef g(y=" + "-".join(["1"] * 1500) + "):\n    pass", ["cell 1", "nested too deeply"]),
        ("x = (" * 300 + ")" * 300, ["cell 1", "syntax error"]),
        ("\tif x:\n        pass", ["cell 1"]),
    ])
    def test_other_unparsable_cells_are_400s_naming_the_cell(self, jp_fetch, jp_asyncio_loop, write_notebook,
                                                             cell, words):
        path = write_notebook("bad.ipynb", cell)
        status, body = _fetch(jp_asyncio_loop, jp_fetch, "notebook-tasks", params={"path": path})
        assert status == 400, body
        for word in words:
            assert word in body["message"], body


class TestNotebookLimits:
    @pytest.fixture
    def manager_config(self) -> dict[str, Any]:
        return {"start_embedded": False, "max_notebook_bytes": 20_000, "max_notebook_cells": 5}

    def test_a_notebook_over_the_size_limit_is_a_413_naming_the_trait(self, jp_fetch, jp_asyncio_loop,
                                                                      write_notebook):
        path = write_notebook("big.ipynb", *TASK_CELLS, "data = '" + "x" * 30_000 + "'")
        status, body = _fetch(jp_asyncio_loop, jp_fetch, "notebook-tasks", params={"path": path})
        assert status == 413 and "max_notebook_bytes" in body["message"], body

    def test_a_notebook_with_too_many_cells_is_a_413_naming_the_trait(self, jp_fetch, jp_asyncio_loop,
                                                                       write_notebook):
        path = write_notebook("many.ipynb", *TASK_CELLS, *[f"v{i} = {i}" for i in range(6)])
        for parts, kwargs in (
            (("notebook-tasks",), {"params": {"path": path}}),
            (("runs",), {"method": "POST", "body": json.dumps({"path": path, "task": "square", "inputs": {"x": 1}})}),
        ):
            status, body = _fetch(jp_asyncio_loop, jp_fetch, *parts, **kwargs)
            assert status == 413 and "max_notebook_cells" in body["message"], body

    def test_a_notebook_within_the_limits_lists_its_tasks(self, jp_fetch, jp_asyncio_loop, write_notebook):
        path = write_notebook("small.ipynb", *TASK_CELLS)
        status, body = _fetch(jp_asyncio_loop, jp_fetch, "notebook-tasks", params={"path": path})
        assert status == 200 and [t["name"] for t in body["tasks"]] == ["square"], body

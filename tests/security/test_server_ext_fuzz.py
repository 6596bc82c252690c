"""Fuzzing the server extension's REST handlers (and its websocket's query and messages).

Random query strings, JSON bodies and raw bodies go to every /flyte/api handler of a real Jupyter
server in front of a real backend. For every request: never a 500, never a traceback in the
server's log, and a refused request (any 4xx) stores nothing on the backend (no run, no task).

Bounded and repeatable: at most 50 examples per handler, derandomized, no deadline, no example
database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
import time
from pathlib import Path
from typing import Any, Iterator

import _jupyter_loop
import nbformat
import pytest
from _backend_fixture import BackendProcess
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pytest_jupyter.jupyter_server import *  # noqa: F401,F403  (jp_fetch, jp_ws_fetch, jp_serverapp, ...)
from tornado.httpclient import HTTPClientError

jp_asyncio_loop = _jupyter_loop.jp_asyncio_loop  # replaces pytest-jupyter's: the current loop (see there)

FUZZ = settings(max_examples=50, derandomize=True, deadline=None, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])

NOTEBOOK = "fuzz.ipynb"
TASK_CELLS = (
    "import flyte_jupyter as flyte\nenv = flyte.TaskEnvironment(name='fuzz')",
    "@env.task\ndef square(x: int) -> int:\n    return x * x",
)


# -- strategies -------------------------------------------------------------------------------------

_TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30)
_SPECIAL = st.sampled_from([
    "", " ", "default", "development", "team-a", "UPPER", "-x", "a" * 300, "../..", "/etc/passwd", "%", "%s",
    "%(x)s", "%%d", "\x00", "é", "😀", "null", "0", "-1", "1e400", "99999999999999999999", "a\nb", "{}", "[]",
])
TEXT = st.one_of(_SPECIAL, _TEXT)
ENDPOINTS = st.one_of(st.just(""), st.sampled_from(["127.0.0.1:9", "evil.example:443", "localhost:1",
                                                    "dns:///x:1", "unix:/tmp/x.sock", "[::1]:9"]), TEXT)
NAMES = st.one_of(st.sampled_from(["r-1", "a0", "r-does-not-exist", "..", ".", "-", "a" * 300, "UPPER", "x.y"]),
                  st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-_.", min_size=1, max_size=70),
                  st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="/?#"),
                          min_size=1, max_size=20))
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
RAW_BODIES = st.sampled_from([
    b"", b"{", b"[]", b"null", b"1", b'"x"', b"\xff\xfe", b'{"task": "\\ud800"}', b'{"endpoint": "\\udfff"}',
    b"[" * 50_000 + b"]" * 50_000, b'{"a":' * 20_000 + b"1" + b"}" * 20_000, b'{"limit": ' + b"9" * 5000 + b"}",
    b'{"inputs": NaN, "task": "square", "path": "fuzz.ipynb"}', b"\x00" * 64, "{\"task\": \"é\"}".encode("latin-1"),
])


def _query(*keys: str) -> st.SearchStrategy[dict[str, str]]:
    """A query string: some of the handler's own keys (the scope's among them), plus strangers."""
    own = {k: ENDPOINTS if k == "endpoint" else TEXT for k in ("endpoint", "project", "domain", *keys)}
    return st.builds(lambda a, b: {**b, **a}, st.fixed_dictionaries({}, optional=own),
                     st.dictionaries(TEXT, TEXT, max_size=2))


def _json_body(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[bytes]:
    own = {"endpoint": ENDPOINTS | JSON, "project": TEXT | JSON, "domain": TEXT | JSON, **fields}
    objects = st.builds(lambda a, b: {**b, **a}, st.fixed_dictionaries({}, optional=own),
                        st.dictionaries(TEXT, JSON, max_size=2))
    return st.one_of(objects.map(lambda d: json.dumps(d).encode()), JSON.map(lambda v: json.dumps(v).encode()),
                     RAW_BODIES)


# -- the server under test --------------------------------------------------------------------------


def _short(text: str, limit: int = 400) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"


class _Tracebacks(logging.Handler):
    """Every log record of the Jupyter server that carries a traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage() if isinstance(record.msg, str) else str(record.msg)
        if record.exc_info or record.stack_info or "Traceback (most recent call last)" in text:
            self.records.append(_short(f"{record.name}: {text}"))


class Server:
    """Sends one request and checks the invariants of every answer."""

    def __init__(self, loop: Any, jp_fetch: Any, backend: BackendProcess, log: _Tracebacks, capfd: Any) -> None:
        self.loop, self.jp_fetch, self.backend, self.log, self.capfd = loop, jp_fetch, backend, log, capfd
        self.statuses: dict[int, int] = {}

    def stored(self) -> tuple[list[Any], list[Any]]:
        conn = sqlite3.connect(str(self.backend.data_dir / "state.db"), timeout=10)
        try:
            runs = sorted(conn.execute("SELECT project, domain, name FROM runs"))
            tasks = sorted(conn.execute("SELECT project, domain, name, version FROM tasks"))
            return runs, tasks
        finally:
            conn.close()

    def request(self, method: str, parts: tuple[str, ...], params: dict[str, str] | None = None,
                body: bytes | None = None) -> int:
        self.log.records.clear()
        self.capfd.readouterr()
        before = self.stored()
        kwargs: dict[str, Any] = {"method": method, "params": params or {}, "request_timeout": 120,
                                  "raise_error": False}
        if method == "POST":
            kwargs["body"] = body if body is not None else b""
        response = self.loop.run_until_complete(self.jp_fetch("flyte", "api", *parts, **kwargs))
        what = _short(f"{method} {'/'.join(parts)} params={params!r} body={(body or b'')[:200]!r}")
        status = response.code
        self.statuses[status] = self.statuses.get(status, 0) + 1
        text = (response.body or b"").decode(errors="replace")
        assert status != 599, f"no answer: {what}: {response.error}"
        assert status < 500, f"{status} for {what}: {text[:1000]}"
        assert not self.log.records, f"traceback in the server log after {what}: {self.log.records[:3]}"
        out, err = self.capfd.readouterr()
        assert "Traceback (most recent call last)" not in out + err, f"traceback printed after {what}:\n{err[-3000:]}"
        if status >= 400:
            assert self.stored() == before, f"a refused request ({status}) stored something: {what}"
            if response.headers.get("Content-Type", "").startswith("application/json"):
                assert isinstance(json.loads(text).get("message"), str), text
        return status


@pytest.fixture
def jp_server_config(flyte_backend_process: BackendProcess) -> dict[str, Any]:
    return {
        "ServerApp": {"jpserver_extensions": {"flyte_jupyter.server_ext": True},
                      "allow_unauthenticated_access": False},
        "BackendRunsManager": {"config_file": str(flyte_backend_process.client_yaml), "start_embedded": False},
    }


@pytest.fixture
def server(jp_fetch: Any, jp_asyncio_loop: Any, jp_root_dir: Path, flyte_backend_process: BackendProcess,
           capfd: Any) -> Iterator[Server]:
    nb = nbformat.v4.new_notebook()
    nb.cells.extend(nbformat.v4.new_code_cell(c) for c in TASK_CELLS)
    nbformat.write(nb, str(jp_root_dir / NOTEBOOK))
    (jp_root_dir / "not-a-notebook.ipynb").write_text("{\"cells\": 3}")
    log = _Tracebacks()
    loggers = [logging.getLogger()] + [lg for lg in logging.Logger.manager.loggerDict.values()
                                        if isinstance(lg, logging.Logger)]
    for lg in loggers:
        lg.addHandler(log)
    fuzzed = Server(jp_asyncio_loop, jp_fetch, flyte_backend_process, log, capfd)
    try:
        yield fuzzed
        with capfd.disabled():
            print(f"\n  statuses: {dict(sorted(fuzzed.statuses.items()))}")  # what the examples exercised (-s)
    finally:
        for lg in loggers:
            lg.removeHandler(log)


_SEED: dict[int, str] = {}


@pytest.fixture
def seed_run(server: Server, flyte_backend_process: BackendProcess) -> str:
    """A run the panel submitted (so it can be re-run), made once per backend."""
    key = id(flyte_backend_process)
    if key not in _SEED:
        body = json.dumps({"path": NOTEBOOK, "task": "square", "inputs": {"x": 2}})
        response = server.loop.run_until_complete(server.jp_fetch("flyte", "api", "runs", method="POST", body=body,
                                                                  request_timeout=180))
        _SEED[key] = json.loads(response.body)["name"]
    return _SEED[key]


def _names(seed: str) -> st.SearchStrategy[str]:
    return st.one_of(NAMES, NAMES, NAMES, st.just(seed))


# -- one test per handler ---------------------------------------------------------------------------


def test_list_runs(server):
    @FUZZ
    @given(params=_query("phase", "limit"))
    def check(params):
        server.request("GET", ("runs",), params)

    check()


def test_submit(server):
    paths = st.one_of(st.sampled_from([NOTEBOOK, "missing.ipynb", "not-a-notebook.ipynb", "../" + NOTEBOOK,
                                       "/" + NOTEBOOK, "."]), TEXT, JSON)
    tasks = st.one_of(st.sampled_from(["square", "nope", "flyte", "env"]), TEXT, JSON)
    inputs = st.one_of(st.sampled_from([{"x": 3}, {"x": "three"}, {}, {"y": 1}, {"x": 2 ** 70}]), JSON)

    # half the bodies name the notebook's task, so the fuzz reaches bundling, the child process and
    # the backend's own checks (project, domain, inputs); a few of them are accepted (201)
    near = st.fixed_dictionaries(
        {"path": st.just(NOTEBOOK), "task": st.just("square"), "inputs": inputs},
        optional={"endpoint": ENDPOINTS, "project": TEXT, "domain": TEXT}).map(lambda d: json.dumps(d).encode())

    @FUZZ
    @given(body=near | _json_body(path=paths, task=tasks, inputs=inputs), params=_query())
    def check(body, params):
        server.request("POST", ("runs",), params, body)

    check()


def test_get_run(server, seed_run):
    @FUZZ
    @given(name=_names(seed_run), params=_query())
    def check(name, params):
        server.request("GET", ("runs", name), params)

    check()


def test_get_action(server, seed_run):
    @FUZZ
    @given(name=_names(seed_run), action=_names("a0"), params=_query())
    def check(name, action, params):
        server.request("GET", ("runs", name, "actions", action), params)

    check()


def test_logs(server, seed_run):
    @FUZZ
    @given(name=_names(seed_run), action=_names("a0"), params=_query("follow"))
    def check(name, action, params):
        server.request("GET", ("runs", name, "actions", action, "logs"), params)

    check()


def test_abort(server, seed_run):
    @FUZZ
    @given(name=_names(seed_run), body=_json_body(), params=_query())
    def check(name, body, params):
        server.request("POST", ("runs", name, "abort"), params, body)

    check()


def test_rerun(server, seed_run):
    @FUZZ
    @given(name=_names(seed_run), body=_json_body(), params=_query())
    def check(name, body, params):
        server.request("POST", ("runs", name, "rerun"), params, body)

    check()


def test_notebook_tasks(server):
    paths = st.one_of(st.sampled_from([NOTEBOOK, "missing.ipynb", "not-a-notebook.ipynb", "../" + NOTEBOOK,
                                       "/" + NOTEBOOK, ".", "..", "a/" * 200, "x" * 5000]), TEXT)

    @FUZZ
    @given(params=_query("path").flatmap(lambda q: paths.map(lambda p: {**q, "path": p}) | st.just(q)))
    def check(params):
        server.request("GET", ("notebook-tasks",), params)

    check()


def test_websocket(server, jp_ws_fetch, jp_serverapp):
    """The websocket's query and messages: refused or served, never a traceback."""
    hub = jp_serverapp.web_app.settings["flyte_updates_hub"]
    messages = st.lists(st.one_of(
        JSON.map(json.dumps), TEXT, st.builds(lambda k, v: json.dumps({k: v}), st.sampled_from(["watch", "unwatch"]),
                                              JSON | NAMES)), max_size=4)

    @settings(FUZZ, max_examples=25)
    @given(params=_query(), messages=messages)
    def check(params, messages):
        server.log.records.clear()

        async def go() -> None:
            try:
                ws = await jp_ws_fetch("flyte", "api", "ws", params=params)
            except HTTPClientError as err:
                assert err.code in (400, 403), err
                return
            for message in messages:
                await ws.write_message(message)
            ws.close()

        server.loop.run_until_complete(go())
        assert not server.log.records, _short(f"traceback in the server log for ws {params!r}: {server.log.records[:3]}")

    check()
    # every socket is gone: the hub stopped the watches of the last one to leave
    deadline = time.monotonic() + 10
    while (hub._lists or hub._runs) and time.monotonic() < deadline:
        server.loop.run_until_complete(asyncio.sleep(0.1))
    assert not hub._lists and not hub._runs

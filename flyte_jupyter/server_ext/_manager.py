"""Runs managers: what the REST and websocket handlers call to reach a backend.

`RunsManager` is the interface; `BackendRunsManager` implements it over the SDK's gRPC
`BackendClient`. A deployment swaps the implementation with `c.FlyteJupyter.runs_manager_class`,
the way jupyter-scheduler swaps its scheduler, without forking the handlers. Each manager class owns
its settings as traits (`c.BackendRunsManager.endpoint`, `c.RunsManager.project`, ...): the app
builds it with the server's config.

Every call takes a `Scope`: the endpoint, project and domain a browser chose in its settings,
each falling back to the server's configuration when empty. The endpoint is never the browser's to
choose freely (the server would dial any host and port for it): `check_scope` refuses, with a 403,
any endpoint but the server's own backend and those its config lists in `allowed_endpoints`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import sys
import tempfile
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, TypeVar

from traitlets import Bool, Float, Int, List, Unicode
from traitlets.config import LoggingConfigurable

from flyte_jupyter._internal.runtime.action_links import live_links
from flyte_jupyter.errors import FlyteJupyterError
from flyte_jupyter.server_ext import _notebook
from flyte_jupyter.server_ext._origins import (
    INPUTS_LABEL,
    RERUN_OF_LABEL,
    SERIES_LABEL,
    SOURCE_LABEL,
    TASK_LABEL,
    CellIndex,
    origin_of,
)

T = TypeVar("T")

_MAX_INPUTS_LABEL = 8192
TASKS_VIEW = "Tasks view"  # the `source` label of runs launched from the panel's Tasks view
_MAX_LABEL_READS = 5000  # stored inputs read for labels per request


class ManagerError(FlyteJupyterError):
    """A failure the browser should see: `status` is the HTTP status, `message` says what to do."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclasses.dataclass(frozen=True)
class Scope:
    """Where a browser's request goes; empty fields mean the server's defaults."""

    endpoint: str = ""
    project: str = ""
    domain: str = ""


@dataclasses.dataclass
class Submission:
    """A run request from the panel: a saved notebook, one of its tasks and that task's inputs."""

    path: str  # as the browser names it, relative to the server's root
    os_path: Path  # where it is on disk
    task: str
    inputs: dict[str, Any]


def resolve_notebook(root_dir: str, path: str) -> Path:
    """The file behind an API path, refusing paths that leave the server's root directory."""
    if not path:
        raise ManagerError(400, "`path` is required: the notebook's path relative to the server root")
    root = Path(root_dir or ".").resolve()
    try:
        full = (root / path.lstrip("/")).resolve()
    except (ValueError, OSError):  # a NUL byte, a name too long, a symlink loop
        raise ManagerError(404, f"notebook {path[:200]!r} not found under the server root") from None
    if full != root and root not in full.parents:
        raise ManagerError(404, f"notebook {path[:200]} not found under the server root")
    return full


class RunsManager(LoggingConfigurable):
    """The interface the handlers use. Subclass it to reach another kind of backend.

    `root_dir` is the Jupyter server's root: API paths of notebooks are relative to it. `project`
    and `domain` are where a request goes when the browser names none.
    """

    root_dir = Unicode("", help="The Jupyter server's root directory (set by the extension).")
    project = Unicode("default", help="Default project of listed and submitted runs.").tag(config=True)
    domain = Unicode("development", help="Default domain of listed and submitted runs.").tag(config=True)
    allowed_endpoints = List(Unicode(), help=(
        "Backends a browser may name in the panel's Endpoint setting (`?endpoint=` / `endpoint` in a "
        "request), besides the server's own: each a gRPC address (host:port) or the path of a backend's "
        "client.yaml (its endpoint and token are read from it). Empty: only the server's own backend; a "
        "request naming any other is refused with a 403.")).tag(config=True)
    max_notebook_bytes = Int(_notebook.DEFAULT_MAX_BYTES, help=(
        "Largest notebook file (bytes, outputs included) the server reads to list or submit its tasks; "
        "a larger one is refused with a 413. 0: no limit.")).tag(config=True)
    max_notebook_cells = Int(_notebook.DEFAULT_MAX_CELLS, help=(
        "Most cells a notebook may have for the server to list or submit its tasks; more are refused "
        "with a 413. 0: no limit.")).tag(config=True)

    def read_notebook(self, os_path: Path, path: str) -> list[Any]:
        """The notebook's parsed code cells, within this manager's limits (NotebookError otherwise)."""
        return _notebook.read_notebook(os_path, path, max_bytes=self.max_notebook_bytes,
                                       max_cells=self.max_notebook_cells)

    async def check_scope(self, scope: Scope) -> Scope:
        """The scope, if its endpoint is one the server's config allows; else a 403 ManagerError.
        The handlers call it before anything else, for every request and websocket."""
        if scope.endpoint and _endpoint_key(scope.endpoint) not in {
                _endpoint_key(e) for e in self.allowed_endpoints if not _is_client_file(e)}:
            raise self.endpoint_refused(scope.endpoint)
        return scope

    def endpoint_refused(self, endpoint: str, own: str | None = None) -> ManagerError:
        trait = f"c.{type(self).__name__}.allowed_endpoints"
        shown = endpoint if len(endpoint) <= 200 else endpoint[:199] + "…"
        mine = f" ({own})" if own else ""
        return ManagerError(403, (
            f"this Jupyter server does not connect to backend {shown!r} for the browser: it talks to its own "
            f"configured backend{mine} and to those listed in {trait}. Clear the Endpoint in the Flyte "
            f"settings, or have the server's admin add {shown!r} to {trait} in the server's config"))

    async def start(self) -> None:
        """Called once when the Jupyter server starts."""

    async def stop(self) -> None:
        """Called once when the Jupyter server stops."""

    async def list_runs(self, scope: Scope, phase: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def get_run(self, scope: Scope, name: str) -> dict[str, Any]:
        """The run dict plus `actions`: a list of ActionInfo.to_json() dicts."""
        raise NotImplementedError

    async def get_action(self, scope: Scope, run: str, action: str) -> dict[str, Any]:
        """One action's ActionInfo.to_json() with `inputs` and `outputs`: name -> short text."""
        raise NotImplementedError

    async def submit(self, scope: Scope, submission: Submission) -> dict[str, Any]:
        raise NotImplementedError

    async def rerun(self, scope: Scope, name: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """A new run of the same task and inputs; `inputs` (name -> JSON value) changes some (a clone)."""
        raise NotImplementedError

    async def rerun_form(self, scope: Scope, name: str) -> dict[str, Any]:
        """What a re-run of `name` would run: {"run", "task", "how", "inputs": [field, ...], "origin"};
        a field is {"name", "type", "required", "value" (JSON text, None when not editable), "text",
        "editable"}."""
        raise NotImplementedError

    async def labels(self, scope: Scope, run: str, actions: list[str] | None = None) -> dict[str, str]:
        """Short labels of the run's actions (`trial(lr=0.05, i=4)`): all, or the ones named."""
        return {}

    async def status(self, scope: Scope) -> dict[str, Any]:
        """Facts about the backend for the panel: {"endpoint", "embedded", "started_by_server",
        "max_parallelism", "running", "queued", ...}; unknown facts are None."""
        return {"endpoint": None, "embedded": False, "started_by_server": False, "max_parallelism": None,
                "running": None, "queued": None}

    async def abort(self, scope: Scope, name: str) -> dict[str, Any]:
        raise NotImplementedError

    # -- deployed tasks (the Tasks view) ----------------------------------------------------------

    async def list_tasks(self, scope: Scope, name: str | None = None, latest: bool = False) -> list[dict[str, Any]]:
        """Registered task versions of the scope's project and domain, as `tasks list --json` rows
        (by name, newest version first); `latest`: the newest of each task only."""
        raise NotImplementedError

    async def get_task(self, scope: Scope, name: str, version: str = "") -> dict[str, Any]:
        """One registered version ("": the newest) as a `tasks get --json` row."""
        raise NotImplementedError

    async def launch_task(self, scope: Scope, name: str, version: str, inputs: dict[str, Any],
                          run_name: str = "") -> dict[str, Any]:
        """Start a run of a registered version with JSON inputs checked by type (a 400 naming the
        field and its type otherwise); the new run's dict."""
        raise NotImplementedError

    # -- schedules (the panel's triggers) ---------------------------------------------------------

    async def list_triggers(self, scope: Scope, task: str = "") -> list[Any]:
        """The triggers (TriggerInfo messages) of the scope's deployed tasks, or of `task`'s."""
        raise ManagerError(501, f"{type(self).__name__} has no backend to list triggers of")

    async def set_trigger_active(self, scope: Scope, name: str, active: bool, task: str = "") -> Any:
        """Pause (`active=False`) or resume a trigger; the trigger as it is now (a TriggerInfo).
        `task` tells two tasks' triggers of one name apart."""
        raise ManagerError(501, f"{type(self).__name__} has no backend to pause or resume triggers on")

    def logs(self, scope: Scope, run: str, action: str, follow: bool, attempt: int = 0) -> AsyncIterator[str]:
        """Chunks of log text of one attempt (0: the latest); with `follow`, until it ends."""
        raise NotImplementedError

    def watch(self, scope: Scope, run: str) -> AsyncIterator[dict[str, Any]]:
        """ActionInfo.to_json() dicts for every change of the run's actions, from a snapshot on."""
        raise NotImplementedError

    async def watch_runs(self, scope: Scope, interval: float = 1.0) -> AsyncIterator[dict[str, Any]]:
        """Run dicts as runs appear or change. This default polls `list_runs`; a manager whose
        backend can push changes overrides it."""
        seen: dict[str, str] = {}
        while True:
            for run in await self.list_runs(scope):
                text = json.dumps(run, sort_keys=True)
                if seen.get(run["name"]) != text:
                    seen[run["name"]] = text
                    yield run
            await asyncio.sleep(interval)


def run_json(summary: Any, root_dir: str = "", replayable: bool = False) -> dict[str, Any]:
    """The panel's run shape from the SDK's RunSummary. `replayable`: the manager can re-run any
    run from its stored task and inputs, not only the panel's own submissions."""
    labels = dict(getattr(summary, "labels", None) or {})
    source = getattr(summary, "source", None) or labels.get(SOURCE_LABEL)
    origin = origin_of(labels, summary.task, root_dir)
    panel = bool(labels.get(SOURCE_LABEL) and labels.get(TASK_LABEL) and INPUTS_LABEL in labels)
    return {
        "name": summary.name,
        "phase": str(summary.phase),
        "succeeded": summary.phase.succeeded,  # SUCCEEDED or RECOVERED (outputs reused, success-equivalent)
        "rerun_of": labels.get("rerun-of"),
        "source": source or None,
        "task": summary.task,
        "task_version": getattr(summary, "task_version", "") or None,
        "project": summary.project,
        "domain": summary.domain,
        "started_at": summary.created_at,
        "ended_at": summary.ended_at,
        "error": dataclasses.asdict(summary.error) if summary.error else None,
        "action_count": summary.action_count,
        "url": summary.url,
        "can_rerun": panel or replayable,
        "origin": origin,
        "series": origin["series"],
    }


class BackendRunsManager(RunsManager):
    """Runs on a flyte-jupyter backend through the SDK's BackendClient.

    Which backend is `resolve_client`'s answer, the same as for the SDK, the CLI and the kernel:
    `config_file`, else `endpoint` (with `api_key`), else `$FLYTE_JUPYTER_CONFIG`, else the embedded
    backend of `data_dir`. That one is started with the server when `start_embedded` and none runs
    (a separate process, so a crash or a busy executor never stalls the Jupyter server), and then
    stopped with the server; one that was already running is used and left alone. The browser may
    name another endpoint per request (the panel's settings) only if `allowed_endpoints` lists it.
    """

    endpoint = Unicode("", help="gRPC address of the backend; empty: the config file, or the embedded backend.").tag(config=True)
    api_key = Unicode("", help="Token of the backend at `endpoint` (from its client.yaml).").tag(config=True)
    config_file = Unicode("", help="A backend's client.yaml to read the endpoint and token from; it comes before `endpoint`.").tag(config=True)
    data_dir = Unicode("", help="Data directory of the embedded backend; empty: the user's data directory.").tag(config=True)
    start_embedded = Bool(True, help="Start the embedded backend when nothing else is configured (and stop it with the server).").tag(config=True)
    submit_timeout = Float(300.0, help="Seconds a notebook submission may take (bundling and upload).").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._default: Any = None  # the BackendClient of the server's backend, once resolved
        self._is_embedded = False  # it is the embedded backend of `data_dir`
        self._started_embedded = False  # ... and this server started it: stop it at exit
        self._used: dict[int, Any] = {}  # clients to close at exit
        self._start_task: asyncio.Future[None] | None = None
        self._start_error: str | None = None
        self._atexit = False
        self._cells: CellIndex | None = None  # cell keys -> positions, per saved notebook
        self._labels: dict[tuple[str, str, str], dict[str, str]] = {}  # (project, domain, run) -> labels

    # -- lifecycle --------------------------------------------------------------------------------

    async def start(self) -> None:
        """Idempotent: the server calls it at startup, the first request calls it if it did not."""
        if self._start_task is None:
            self._start_task = asyncio.ensure_future(self._start())
        await asyncio.shield(self._start_task)

    async def _start(self) -> None:
        from flyte_jupyter._internal.client.resolve import NoBackendError

        try:
            await asyncio.get_running_loop().run_in_executor(None, self._resolve)
        except NoBackendError:
            pass  # nothing configured, and the embedded backend is not to be started: requests say so
        except Exception as err:  # the server keeps running; requests explain what failed
            self._start_error = f"the Flyte backend did not start: {err}"
            self.log.error("flyte_jupyter: %s", self._start_error)

    def _resolve(self) -> None:
        """Find the server's backend (blocking: it may start the embedded one)."""
        from flyte_jupyter._internal.client import embedded as _embedded
        from flyte_jupyter._internal.client.resolve import NoBackendError, resolve_client

        data_dir = self.data_dir or None
        how = {"config_file": self.config_file or None, "cfg": self._client_config(self.endpoint, self.api_key),
               "data_dir": data_dir}
        try:
            client = resolve_client(**how, start=False)  # configured, or the embedded one already runs
        except NoBackendError:
            if not self.start_embedded:
                raise
            client = resolve_client(**how, start=True)
            self._started_embedded = True
            if not self._atexit:
                # a server that dies without its cleanup (Ctrl-C twice ends jupyter_server with a
                # KeyboardInterrupt, past `stop_extension`) still stops what it started
                import atexit

                atexit.register(self._stop_at_exit)
                self._atexit = True
        if self.start_embedded:
            self._is_embedded = _embedded.backend_status(data_dir).endpoint == client.endpoint
        self._default = self._use(client)
        if self._is_embedded:
            self.log.info("flyte_jupyter: embedded backend at %s%s", client.endpoint,
                          "" if self._started_embedded else " (already running, left running at exit)")

    def _client_config(self, endpoint: str, token: str = "") -> Any:
        """An explicit endpoint for `resolve_client`; empty, it answers from its other sources."""
        from flyte_jupyter._config import ClientConfig

        return ClientConfig(endpoint=endpoint or None, api_key=token or None, project=self.project,
                            domain=self.domain)

    def _use(self, client: Any) -> Any:
        self._used[id(client)] = client
        return client

    async def stop(self) -> None:
        if self._start_task is not None and not self._start_task.done():
            await asyncio.wait([self._start_task], timeout=60)
        for client in self._used.values():
            try:
                await client.close()
            except Exception:
                pass
        self._used.clear()
        if self._started_embedded:
            from flyte_jupyter._internal.client import embedded as _embedded

            await asyncio.get_running_loop().run_in_executor(None, _embedded.stop_backend, self.data_dir or None)
            self._started_embedded = False

    def _stop_at_exit(self) -> None:
        if self._started_embedded:
            from flyte_jupyter._internal.client import embedded as _embedded

            self._started_embedded = False
            try:
                _embedded.stop_backend(self.data_dir or None)
            except Exception:
                pass

    # -- plumbing ---------------------------------------------------------------------------------

    async def check_scope(self, scope: Scope) -> Scope:
        if scope.endpoint:
            await self._client(scope)  # refuses an endpoint that is neither the server's nor allowed
        return scope

    def _allowed_client(self, endpoint: str) -> Any:
        """The client of an endpoint `allowed_endpoints` lists (an address, or a client.yaml naming
        it), else None. Only these, and the server's own backend, are ever dialled for a browser."""
        from flyte_jupyter._internal.client.resolve import resolve_client

        key = _endpoint_key(endpoint)
        for entry in self.allowed_endpoints:
            if not _is_client_file(entry):
                if _endpoint_key(entry) == key:
                    return self._use(resolve_client(cfg=self._client_config(entry.strip())))
                continue
            try:
                client = resolve_client(config_file=entry)
            except Exception as err:  # a file that is gone or unreadable allows nothing
                self.log.warning("flyte_jupyter: allowed_endpoints entry %s is not readable: %s", entry, err)
                continue
            if _endpoint_key(client.endpoint) == key:
                return self._use(client)
        return None

    async def _client(self, scope: Scope) -> Any:
        try:
            await asyncio.wait_for(self.start(), timeout=120)
        except asyncio.TimeoutError:
            raise ManagerError(503, "the Flyte backend is still starting; try again in a moment") from None
        default = self._default
        if scope.endpoint and not (default is not None and _endpoint_key(scope.endpoint) == _endpoint_key(default.endpoint)):
            client = self._allowed_client(scope.endpoint)
            if client is None:
                raise self.endpoint_refused(scope.endpoint, default.endpoint if default is not None else None)
            return client
        if default is None:
            raise ManagerError(503, self._start_error or (
                "no Flyte backend is configured: set c.BackendRunsManager.endpoint or .config_file in the "
                "server's config, or let the server start the embedded backend"))
        return default

    def _pd(self, scope: Scope) -> dict[str, str]:
        return {"project": scope.project or self.project, "domain": scope.domain or self.domain}

    def _embedded_mode(self, scope: Scope) -> bool:
        return (self._is_embedded and self._default is not None
                and (not scope.endpoint or _endpoint_key(scope.endpoint) == _endpoint_key(self._default.endpoint)))

    def _restart_embedded(self) -> None:
        """The embedded backend went away (crashed, or stopped from a terminal): start it again."""
        self._resolve()

    async def _call(self, scope: Scope, fn: Callable[[Any], Awaitable[T]]) -> T:
        """`fn(client)`, with backend errors as ManagerErrors. When the embedded backend is gone
        (crashed, or stopped from a terminal) it is started again once and the call retried."""
        from flyte_jupyter.errors import BackendError

        tries = 4
        for attempt in range(1, tries + 1):
            client = await self._client(scope)
            try:
                return await fn(client)
            except BackendError as err:
                if attempt < tries and err.code == "UNAVAILABLE" and self._embedded_mode(scope):
                    if attempt == 1:
                        self.log.warning("flyte_jupyter: the embedded backend is not answering; starting it again")
                        await asyncio.get_running_loop().run_in_executor(None, self._restart_embedded)
                    # A channel that saw the refusal waits out its reconnect backoff: use a new one,
                    # and give a just-restarted backend a moment (its port may still be settling).
                    await client.close()
                    await asyncio.sleep(0.25 * (attempt - 1))
                    continue
                raise ManagerError(_HTTP_STATUS.get(err.code, 502), err.message) from None
        raise AssertionError("unreachable")

    # -- the interface ----------------------------------------------------------------------------

    def _run_json(self, summary: Any) -> dict[str, Any]:
        return run_json(summary, self.root_dir, replayable=True)

    async def _with_cells(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each run's `origin.cell_number`: where its cell is in the saved notebook (by id, or by the
        digest of its text), read in a thread, once per change of each notebook."""
        from flyte_jupyter.server_ext._origins import api_path

        wanted = [r for r in runs if r.get("origin") and r["origin"].get("notebook") and r["origin"].get("cell")]
        if not wanted:
            return runs
        if self._cells is None:
            self._cells = CellIndex(max_bytes=self.max_notebook_bytes)
        cells = self._cells
        root = self.root_dir

        def find() -> None:
            for run in wanted:
                origin = run["origin"]
                path = api_path(root, origin["notebook"])
                if path is None:
                    continue
                origin["cell_number"] = cells.position(resolve_notebook(root, path), origin["cell"])

        try:
            await asyncio.get_running_loop().run_in_executor(None, find)
        except ManagerError:
            pass
        return runs

    async def list_runs(self, scope: Scope, phase: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
        runs = await self._call(scope, lambda c: c.list_runs(limit=limit, phase=phase, **self._pd(scope)))
        return await self._with_cells([self._run_json(r) for r in runs])

    async def get_run(self, scope: Scope, name: str) -> dict[str, Any]:
        summary, actions = await self._call(scope, lambda c: c.get_run(name, **self._pd(scope)))
        out = (await self._with_cells([self._run_json(summary)]))[0]
        out["deployed"] = await self._deployed(scope, out)
        links = await asyncio.get_running_loop().run_in_executor(None, lambda: [live_links(a) for a in actions])
        out["actions"] = [{**_action_json(a), "links": found} for a, found in zip(actions, links)]
        return out

    async def get_action(self, scope: Scope, run: str, action: str) -> dict[str, Any]:
        from flyte_jupyter.server_ext import _attempts
        from flyte_jupyter.server_ext._summary import read_summaries

        detail = await self._call(scope, lambda c: c.get_action(run, action, **self._pd(scope)))
        out = detail.info.to_json()
        inputs, outputs = await asyncio.get_running_loop().run_in_executor(
            None, read_summaries, detail.inputs_uri, detail.outputs_uri, detail.info.phase.succeeded)
        links = await asyncio.get_running_loop().run_in_executor(None, live_links, detail.info)
        out.update(inputs=inputs, outputs=outputs, max_attempts=detail.max_attempts, links=links)
        out["attempt_history"] = _attempts.history(detail.info)
        spec = detail.spec if detail.info.attempts > 1 or detail.max_attempts > 1 else None
        if spec is not None:
            r = spec.retries
            out["retry_policy"] = {"retries": r.count, "backoff": r.backoff_seconds, "factor": r.backoff_factor or 2.0,
                                   "max_backoff": r.max_backoff_seconds or 300.0}
        return out

    async def labels(self, scope: Scope, run: str, actions: list[str] | None = None) -> dict[str, str]:
        """Labels from each action's stored inputs, read once per action (inputs never change), in
        the task's own order (its spec's interface)."""
        from flyte_jupyter._internal.display.labels import label_of
        from flyte_jupyter.server_ext._summary import input_words

        pd = self._pd(scope)
        key = (pd["project"], pd["domain"], run)
        known = self._labels.get(key)
        if known is None:
            known = self._labels[key] = {}
            while len(self._labels) > _MAX_LABELLED_RUNS:
                self._labels.pop(next(iter(self._labels)))
        wanted = set(actions) if actions is not None else None
        if wanted is not None and wanted <= known.keys():
            return {n: known[n] for n in wanted}
        raw = await self._call(scope, lambda c: c.get_run_actions(run, **pd))
        todo = [a for a in raw if a.id.name not in known and (wanted is None or a.id.name in wanted)]
        todo = todo[:_MAX_LABEL_READS]
        orders: dict[tuple[str, str], list[str]] = {}
        for a in todo:
            task_key = (a.task_name, a.task_version)
            if task_key not in orders and a.task_name != "notebook.cell":
                try:
                    detail = await self._call(scope, functools.partial(_get_action, run=run, action=a.id.name, pd=pd))
                    spec = detail.spec
                    orders[task_key] = [v.name for v in spec.interface.inputs] if spec is not None else []
                except ManagerError:
                    orders[task_key] = []

        def read() -> dict[str, str]:
            out = {}
            for a in todo:
                words = input_words(a.inputs_uri, orders.get((a.task_name, a.task_version)))
                if words is not None:
                    out[a.id.name] = label_of(a.task_name, words)
            return out

        known.update(await asyncio.get_running_loop().run_in_executor(None, read))
        return {n: v for n, v in known.items() if wanted is None or n in wanted}

    async def status(self, scope: Scope) -> dict[str, Any]:
        facts = await self._call(scope, lambda c: c.status())
        embedded = self._embedded_mode(scope)
        return {
            "endpoint": facts.get("endpoint"),
            "embedded": embedded,
            "started_by_server": embedded and self._started_embedded,
            "max_parallelism": facts.get("max_parallelism") or None,  # None: no bound but the capacity
            "cpu_capacity": facts.get("cpu_capacity"), "cpu_requested": facts.get("cpu_requested"),
            "memory_capacity": facts.get("memory_capacity"), "memory_requested": facts.get("memory_requested"),
            "running": facts.get("running_actions"),
            "queued": facts.get("queued_actions"),
            "waiting_parents": facts.get("waiting_parents"),  # running, their request given back
            "version": facts.get("version"),
            "executor": facts.get("executor"),
            "data_dir": facts.get("data_dir") if embedded else None,
        }

    async def submit(self, scope: Scope, submission: Submission, extra_labels: dict[str, str] | None = None) -> dict[str, Any]:
        await self.check_scope(scope)  # before the notebook is read: a refused request does nothing
        cells = self.read_notebook(submission.os_path, submission.path)
        tasks = {t.name: t for t in _notebook.find_tasks(cells)}
        if submission.task not in tasks:
            known = ", ".join(sorted(tasks)) or "none"
            raise ManagerError(400, f"{submission.path} defines no task named {submission.task!r} "
                                    f"(tasks: {known}); decorate it with @env.task and save the notebook")
        source = _notebook.module_source(cells, submission.path)
        module, renamed = _notebook.module_name_for(submission.path, submission.os_path.parent)
        if renamed:
            self.log.warning("flyte_jupyter: %s is bundled as module %s: a module named %s is installed or "
                             "next to it, and the notebook's module would shadow it", submission.path, module,
                             Path(submission.path).stem)
        # waits for the backend to start (or restarts a dead embedded one), explains a missing endpoint
        await self._call(scope, lambda c: c.status())
        client = await self._client(scope)
        inputs_text = json.dumps(submission.inputs, sort_keys=True)
        labels = {SOURCE_LABEL: submission.path, TASK_LABEL: submission.task, **(extra_labels or {})}
        if len(inputs_text) <= _MAX_INPUTS_LABEL:
            labels[INPUTS_LABEL] = inputs_text
        request = {
            "module": module, "source": source, "task": submission.task, "inputs": submission.inputs,
            "endpoint": client.endpoint, "api_key": client.token or "",
            **self._pd(scope),
            "labels": labels, "origin": submission.path,
            "notebook_dir": str(submission.os_path.parent),
        }
        name = await _submit_in_subprocess(request, self.submit_timeout)
        summary, _ = await self._call(scope, lambda c: c.get_run(name, **self._pd(scope)))
        return self._run_json(summary)

    async def rerun_form(self, scope: Scope, name: str) -> dict[str, Any]:
        from flyte_jupyter.server_ext import _replay

        summary, _ = await self._call(scope, lambda c: c.get_run(name, **self._pd(scope)))
        labels = summary.labels or {}
        root = await self._call(scope, lambda c: c.get_action(name, "a0", **self._pd(scope)))
        spec = root.spec
        lm = await asyncio.get_running_loop().run_in_executor(None, _replay.read_inputs, root.inputs_uri)
        fields = _replay.input_fields(spec, lm)
        how = "stored"
        if _is_panel_run(labels):
            how = "notebook"
            try:
                given = json.loads(labels[INPUTS_LABEL])
            except ValueError:
                given = {}
            for field in fields:  # the JSON the panel submitted: every value is editable as it was typed
                if isinstance(given, dict) and field["name"] in given:
                    field["value"], field["editable"] = json.dumps(given[field["name"]]), True
        return {"run": name, "task": summary.task, "how": how, "inputs": fields,
                "origin": self._run_json(summary)["origin"]}

    async def rerun(self, scope: Scope, name: str, inputs: dict[str, Any] | None = None) -> dict[str, Any]:
        """Panel submissions run again from their notebook as saved now (with their JSON inputs);
        every other run from its stored task and inputs (see `_replay`)."""
        summary, _ = await self._call(scope, lambda c: c.get_run(name, **self._pd(scope)))
        labels = summary.labels or {}
        if _is_panel_run(labels):
            path = labels[SOURCE_LABEL]
            os_path = resolve_notebook(self.root_dir, path)
            try:
                given = json.loads(labels[INPUTS_LABEL])
            except ValueError:
                given = None
            if not isinstance(given, dict):
                raise ManagerError(409, f"run {name} has no readable inputs to run again with")
            merged = {**given, **(inputs or {})}
            return await self.submit(scope, Submission(path, os_path, labels[TASK_LABEL], merged),
                                     extra_labels={RERUN_OF_LABEL: name})
        return await self._replay(scope, summary, inputs or {})

    async def _replay(self, scope: Scope, summary: Any, edits: dict[str, Any]) -> dict[str, Any]:
        from flyte_jupyter.server_ext import _replay

        pd = self._pd(scope)
        name = summary.name
        root = await self._call(scope, lambda c: c.get_action(name, "a0", **pd))
        spec = root.spec
        if spec is None:
            raise ManagerError(409, f"the backend keeps no task for run {name}, so it cannot be re-run from here; "
                                    "run its notebook or script again")
        loop = asyncio.get_running_loop()
        lm = await loop.run_in_executor(None, _replay.read_inputs, root.inputs_uri)
        try:
            lm = _replay.edited_inputs(lm, edits) if edits else lm
        except _replay.InputError as err:
            raise ManagerError(400, str(err)) from None
        labels = {**dict(summary.labels or {}), RERUN_OF_LABEL: name}
        series = labels.get(SERIES_LABEL)
        run_name = ""
        client = await self._client(scope)
        if series:
            try:
                run_name = await _replay.next_in_series(client, series, pd["project"], pd["domain"]) or ""
            except Exception:
                run_name = ""
        data = lm.SerializeToString(deterministic=True)
        hash_ = _replay.inputs_hash(spec, lm)
        for _attempt in range(3):  # a name of the series taken meanwhile: the next one
            try:
                create = functools.partial(_create, spec=spec, inputs=data, inputs_hash=hash_, run_name=run_name,
                                           labels=labels, pd=pd)
                created = await self._call(scope, create)
                break
            except ManagerError as err:
                if err.status != 409 or not run_name or not series:
                    raise
                run_name = await _replay.next_in_series(client, series, pd["project"], pd["domain"]) or ""
        else:
            raise ManagerError(409, f"could not find a free name in the series of {series!r}")
        return self._run_json(created)

    async def list_tasks(self, scope: Scope, name: str | None = None, latest: bool = False) -> list[dict[str, Any]]:
        from flyte_jupyter._internal.deploy.rows import task_row

        found = await self._call(scope, lambda c: c.list_tasks(name=name, latest_only=latest, **self._pd(scope)))
        return [task_row(t) for t in found]

    async def get_task(self, scope: Scope, name: str, version: str = "") -> dict[str, Any]:
        from flyte_jupyter._internal.deploy.rows import task_row

        return task_row(await self._call(scope, lambda c: c.get_task(name, version, **self._pd(scope))))

    async def launch_task(self, scope: Scope, name: str, version: str, inputs: dict[str, Any],
                          run_name: str = "") -> dict[str, Any]:
        """Read the version (as `flyte.remote.Task.fetch()` does), check the inputs by its types,
        then start it the way `flyte.run(task, **inputs)` does (see `_launch`)."""
        from flyte_jupyter.errors import BackendError, RemoteTaskUsageError
        from flyte_jupyter.server_ext import _launch

        pd = self._pd(scope)
        details = await self._call(scope, lambda c: c.get_task(name, version, **pd))
        client = await self._client(scope)
        try:
            run = await _launch.launch(client, details, inputs, run_name=run_name, labels={SOURCE_LABEL: TASKS_VIEW})
        except BackendError as err:
            raise ManagerError(_HTTP_STATUS.get(err.code, 502), err.message) from None
        except RemoteTaskUsageError as err:  # a registered default that could not be recorded
            raise ManagerError(400, str(err)) from None
        summary, _ = await self._call(scope, lambda c: c.get_run(run, **pd))
        return self._run_json(summary)

    async def _deployed(self, scope: Scope, run: dict[str, Any]) -> dict[str, Any] | None:
        """The registered version a run ran ({name, version, project, domain}), or None when its
        task and version are not a registration (a run of local code)."""
        if not run.get("task") or not run.get("task_version"):
            return None
        try:
            reg = await self._call(scope, lambda c: c.get_task(run["task"], run["task_version"],
                                                               project=run["project"], domain=run["domain"]))
        except ManagerError:
            return None
        if reg.id.version != run["task_version"]:
            return None
        return {"name": reg.id.name, "version": reg.id.version, "project": reg.id.project, "domain": reg.id.domain}

    async def list_triggers(self, scope: Scope, task: str = "") -> list[Any]:
        from flyte_jupyter._internal.client import platform

        return await self._call(scope, lambda c: platform.list_triggers(c, task_name=task, **self._pd(scope)))

    async def set_trigger_active(self, scope: Scope, name: str, active: bool, task: str = "") -> Any:
        from flyte_jupyter._internal.client import platform

        return await self._call(scope, lambda c: platform.set_trigger_active(c, name, active, task_name=task,
                                                                            **self._pd(scope)))

    async def abort(self, scope: Scope, name: str) -> dict[str, Any]:
        await self._call(scope, lambda c: c.abort_run(name, reason="aborted from the JupyterLab Flyte panel",
                                                      **self._pd(scope)))
        summary, _ = await self._call(scope, lambda c: c.get_run(name, **self._pd(scope)))
        return self._run_json(summary)

    async def logs(self, scope: Scope, run: str, action: str, follow: bool,  # type: ignore[override]
                   attempt: int = 0) -> AsyncIterator[str]:
        client = await self._client(scope)
        from flyte_jupyter.errors import BackendError

        try:
            async for line in client.tail_logs(run, action, attempt=attempt, follow=follow, **self._pd(scope)):
                text = line.text
                yield text if text.endswith("\n") else text + "\n"
        except BackendError as err:
            raise ManagerError(_HTTP_STATUS.get(err.code, 502), err.message) from None

    async def watch_runs(self, scope: Scope, interval: float = 1.0) -> AsyncIterator[dict[str, Any]]:  # type: ignore[override]
        """Pushed by the backend (WatchRuns): a run dict whenever a run's root action changes."""
        client = await self._client(scope)
        from flyte_jupyter.errors import BackendError

        try:
            async for summary in client.watch_runs(**self._pd(scope)):
                yield (await self._with_cells([self._run_json(summary)]))[0]
        except BackendError as err:
            raise ManagerError(_HTTP_STATUS.get(err.code, 502), err.message) from None

    async def watch(self, scope: Scope, run: str) -> AsyncIterator[dict[str, Any]]:  # type: ignore[override]
        """Action changes, each in ActionInfo.to_json() shape with its live links."""
        client = await self._client(scope)
        from flyte_jupyter._internal.client.grpc_client import Synced
        from flyte_jupyter.errors import BackendError

        try:
            async for event in client.watch_run(run, **self._pd(scope)):
                if isinstance(event, Synced):
                    continue
                links = await asyncio.get_running_loop().run_in_executor(None, live_links, event)
                yield {**_event_json(event), "links": links}
        except BackendError as err:
            raise ManagerError(_HTTP_STATUS.get(err.code, 502), err.message) from None


_MAX_LABELLED_RUNS = 100


def _is_panel_run(labels: dict[str, str]) -> bool:
    """Submitted by the panel from a notebook (its path, task and JSON inputs in the labels)."""
    return bool(labels.get(SOURCE_LABEL) and labels.get(TASK_LABEL) and INPUTS_LABEL in labels
                and str(labels.get(SOURCE_LABEL)).endswith(".ipynb"))


async def _get_action(client: Any, *, run: str, action: str, pd: dict[str, str]) -> Any:
    return await client.get_action(run, action, **pd)


async def _create(client: Any, *, spec: Any, inputs: bytes, inputs_hash: str, run_name: str,
                  labels: dict[str, str], pd: dict[str, str]) -> Any:
    return await client.create_run(spec, inputs=inputs, inputs_hash=inputs_hash, run_name=run_name, labels=labels, **pd)


def _endpoint_key(endpoint: str) -> str:
    """An endpoint as compared with the allowed ones: no surrounding space, host case-insensitive."""
    return endpoint.strip().lower()


def _is_client_file(entry: str) -> bool:
    """An `allowed_endpoints` entry naming a backend's client.yaml rather than an address."""
    return entry.strip().endswith((".yaml", ".yml"))


_HTTP_STATUS = {
    "INVALID_ARGUMENT": 400, "FAILED_PRECONDITION": 409, "ALREADY_EXISTS": 409, "NOT_FOUND": 404,
    "PERMISSION_DENIED": 403, "UNAUTHENTICATED": 401, "UNAVAILABLE": 503, "DEADLINE_EXCEEDED": 504,
    "RESOURCE_EXHAUSTED": 429,
}


def _action_json(info: Any) -> dict[str, Any]:
    out = info.to_json()
    if info.inputs is not None:
        out["inputs"] = {k: _short(v) for k, v in info.inputs.items()}
    if info.outputs is not None:
        out["outputs"] = _short(info.outputs)
    return out


def _event_json(event: Any) -> dict[str, Any]:
    """An ActionEvent in ActionInfo.to_json() shape, so the panel merges it into its tree."""
    from flyte_jupyter._internal.wire.models import ActionInfo

    phase = event.phase
    started = event.timestamp if phase.value in ("RUNNING", "INITIALIZING") else None
    ended = event.timestamp if phase.terminal else None
    info = ActionInfo(name=event.action, task=event.task, parent=event.parent, run_name=event.run_name,
                      phase=phase, attempts=event.attempt, started_at=started, ended_at=ended,
                      error=event.error, cache_hit=event.cache_hit, group=event.group,
                      task_type=event.task_type, attempt_history=event.attempts, outputs_uri=event.outputs_uri,
                      recovered_from=event.recovered_from, usage=event.usage, queued_at=event.queued_at)
    out = info.to_json()
    # only the timestamps the event knows; the panel keeps the others it already has
    return {k: v for k, v in out.items() if not (k in ("started_at", "ended_at") and v is None)}


def _short(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


async def _submit_in_subprocess(request: dict[str, Any], timeout: float) -> str:
    """Import the notebook's module and submit its task in a child process.

    The notebook's top-level definitions run when its module is imported; doing that in a child
    keeps user code out of the Jupyter server and lets the SDK's own remote path (image, bundle,
    CreateRun) do the submission exactly as it would from a script.
    """
    with tempfile.TemporaryDirectory(prefix="flyte-jupyter-submit-") as tmp:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "flyte_jupyter.server_ext._submit_worker",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            cwd=tmp,
        )
        request = dict(request, workdir=tmp)
        try:
            out, err = await asyncio.wait_for(proc.communicate(json.dumps(request).encode()), timeout)
        except asyncio.TimeoutError:
            proc.kill()
            await proc.wait()
            raise ManagerError(504, f"submitting {request['origin']} took longer than {timeout:.0f}s; "
                                    "raise c.BackendRunsManager.submit_timeout") from None
    lines = out.decode(errors="replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        answer = {}
    if proc.returncode == 0 and answer.get("name"):
        return str(answer["name"])
    message = answer.get("message") or err.decode(errors="replace").strip().splitlines()[-1:] or ["unknown error"]
    if isinstance(message, list):
        message = message[0]
    raise ManagerError(int(answer.get("status") or 400), f"submitting {request['origin']} failed: {message}")

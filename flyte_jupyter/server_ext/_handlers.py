"""REST handlers under /flyte/api/. Every one is authenticated; POSTs go through Jupyter's XSRF
check (the browser sends the `_xsrf` cookie as X-XSRFToken; token-authenticated clients are
exempt, as everywhere in Jupyter). Errors are JSON: {"message": ...}, with a 4xx the panel shows.

A request's endpoint (`?endpoint=` or `endpoint` in the body) is checked by the runs manager's
`check_scope` before anything else: the server dials only its own backend and the ones its config
allows (`allowed_endpoints`), never one a browser makes up."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import tornado.iostream
import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from flyte_jupyter.server_ext import _notebook
from flyte_jupyter.server_ext._manager import (
    ManagerError,
    RunsManager,
    Scope,
    Submission,
    resolve_notebook,
)

AUTH_RESOURCE = "flyte"
MAX_LIMIT = 10000  # most runs one list request may ask for
MAX_LABELS = 2000  # most actions one labels request may name
_NAME = r"(?P<name>[\w.\-]+)"
_ACTION = r"(?P<action>[\w.\-]+)"


class _FlyteHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def manager(self) -> RunsManager:
        return self.settings["flyte_runs_manager"]

    async def scope(self, body: dict[str, Any] | None = None) -> Scope:
        """Endpoint/project/domain from the query string or the JSON body (the panel's settings),
        once the manager has allowed the endpoint (a 403 otherwise)."""
        src = body or {}

        def pick(key: str) -> str:
            value = src.get(key) if key in src else self.get_query_argument(key, "")
            if value is not None and not isinstance(value, (str, int, float)):
                raise tornado.web.HTTPError(400, f"`{key}` must be a string")
            return str(value or "").strip()

        return await self.call(self.manager.check_scope(Scope(pick("endpoint"), pick("project"), pick("domain"))))

    def body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
            json.dumps(data, ensure_ascii=False).encode()  # lone surrogates ("\ud800") cannot go further
        except (ValueError, RecursionError) as err:  # not JSON, not UTF-8, nested too deeply, huge numbers
            raise tornado.web.HTTPError(400, f"request body is not valid JSON: {_short(err)}") from None
        if not isinstance(data, dict):
            raise tornado.web.HTTPError(400, "request body must be a JSON object")
        return data

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Always {"message": ...}: the panel shows `message` as is."""
        self.set_header("Content-Type", "application/json")
        message = self._reason
        exc_info = kwargs.get("exc_info")
        if exc_info:
            err = exc_info[1]
            if isinstance(err, tornado.web.HTTPError) and err.log_message:
                # without args, tornado stores the message %-escaped for its log line: format it back
                try:
                    message = err.log_message % err.args
                except (TypeError, ValueError):
                    message = err.log_message
            elif not isinstance(err, tornado.web.HTTPError):
                message = f"{type(err).__name__}: {err}"
        self.finish(json.dumps({"message": message}))

    async def call(self, coro: Any) -> Any:
        try:
            return await coro
        except (ManagerError, _notebook.NotebookError) as err:
            raise tornado.web.HTTPError(err.status, err.message) from None

    def notebook(self, os_path: Path, path: str) -> list[Any]:
        """The notebook's parsed code cells, within the manager's limits."""
        try:
            return self.manager.read_notebook(os_path, path)
        except _notebook.NotebookError as err:
            raise tornado.web.HTTPError(err.status, err.message) from None

    def os_path(self, path: str) -> Path:
        """The notebook's file, refusing paths that leave the server's root directory."""
        try:
            return resolve_notebook(self.manager.root_dir, path)
        except ManagerError as err:
            raise tornado.web.HTTPError(err.status, err.message) from None


class RunsHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        scope = await self.scope()
        phase = self.get_query_argument("phase", "") or None
        text = self.get_query_argument("limit", "100")
        limit = int(text) if text.isascii() and text.isdigit() and len(text) <= 6 else 0
        if not 1 <= limit <= MAX_LIMIT:
            raise tornado.web.HTTPError(400, f"`limit` must be a whole number from 1 to {MAX_LIMIT}")
        runs = await self.call(self.manager.list_runs(scope, phase=phase, limit=limit))
        self.finish(json.dumps({"runs": runs}))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body()
        scope = await self.scope(body)
        path = body.get("path") or ""
        task = body.get("task") or ""
        inputs = body.get("inputs") or {}
        if not isinstance(path, str) or not isinstance(task, str):
            raise tornado.web.HTTPError(400, "`path` and `task` must be strings")
        if not task:
            raise tornado.web.HTTPError(400, "`task` is required: the name of a task the notebook defines")
        if not isinstance(inputs, dict):
            raise tornado.web.HTTPError(400, "`inputs` must be an object mapping input names to values")
        submission = Submission(path=path, os_path=self.os_path(path), task=task, inputs=inputs)
        run = await self.call(self.manager.submit(scope, submission))
        self.set_status(201)
        self.finish(json.dumps(run))


class RunHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        run = await self.call(self.manager.get_run(await self.scope(), name))
        self.finish(json.dumps(run))


class ActionHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, action: str) -> None:
        info = await self.call(self.manager.get_action(await self.scope(), name, action))
        self.finish(json.dumps(info))


class AbortHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        run = await self.call(self.manager.abort(await self.scope(self.body()), name))
        self.finish(json.dumps(run))


class RerunHandler(_FlyteHandler):
    """GET: what a re-run would run (the clone form: the task and its inputs, which can be edited).
    POST: start it; `{"inputs": {name: JSON value}}` changes some inputs (a clone)."""

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        form = await self.call(self.manager.rerun_form(await self.scope(), name))
        self.finish(json.dumps(form))

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.body()
        scope = await self.scope(body)
        inputs = body.get("inputs")
        if inputs is not None and not isinstance(inputs, dict):
            raise tornado.web.HTTPError(400, "`inputs` must be an object mapping input names to values")
        if inputs:
            run = await self.call(self.manager.rerun(scope, name, inputs=inputs))
        else:
            run = await self.call(self.manager.rerun(scope, name))
        self.set_status(201)
        self.finish(json.dumps(run))


class LabelsHandler(_FlyteHandler):
    """Short labels of a run's actions (`trial(lr=0.05, i=4)`); `?actions=a1,a2` names some."""

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        scope = await self.scope()
        text = self.get_query_argument("actions", "")
        actions = [a for a in text.split(",") if a][:MAX_LABELS] if text else None
        labels = await self.call(self.manager.labels(scope, name, actions))
        self.finish(json.dumps({"run": name, "labels": labels}))


class StatusHandler(_FlyteHandler):
    """The backend the panel talks to: where it is, whether the server started it, and how busy it
    is (actions running and queued, out of how many it runs at once)."""

    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        status = await self.call(self.manager.status(await self.scope()))
        self.finish(json.dumps(status))


class LogsHandler(_FlyteHandler):
    """Plain text; with ?follow=1 the response streams until the action's attempt ends, or until
    the browser goes away (the backend stream is cancelled then, not at the next line)."""

    _pump: asyncio.Task[None] | None = None

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, action: str) -> None:
        scope = await self.scope()
        follow = self.get_query_argument("follow", "") in ("1", "true", "yes")
        text = self.get_query_argument("attempt", "")
        if text and not (text.isascii() and text.isdigit() and len(text) <= 4):
            raise tornado.web.HTTPError(400, "`attempt` must be an attempt number (1, 2, ...)")
        attempt = int(text) if text else 0
        self._pump = asyncio.ensure_future(self._stream(scope, name, action, follow, attempt))
        try:
            await self._pump
        except asyncio.CancelledError:
            return  # the browser left
        self.finish(set_content_type="text/plain; charset=utf-8")

    async def _stream(self, scope: Scope, name: str, action: str, follow: bool, attempt: int = 0) -> None:
        if attempt:
            stream = self.manager.logs(scope, name, action, follow, attempt=attempt)
        else:
            stream = self.manager.logs(scope, name, action, follow)
        started = False
        try:
            async for chunk in stream:
                if not started:
                    self.set_header("Content-Type", "text/plain; charset=utf-8")
                    self.set_header("Cache-Control", "no-cache")
                    self.set_header("X-Accel-Buffering", "no")
                    started = True
                self.write(chunk)
                if follow:
                    await self.flush()
        except (ManagerError, _notebook.NotebookError) as err:
            if started:  # headers are gone: end the text with the reason
                self.write(f"\n[log stream ended: {err.message}]\n")
            else:
                raise tornado.web.HTTPError(err.status, err.message) from None
        except tornado.iostream.StreamClosedError:
            raise asyncio.CancelledError() from None
        finally:
            aclose = getattr(stream, "aclose", None)  # an async generator; a plain iterator has none
            if aclose is not None:
                await aclose()

    def on_connection_close(self) -> None:
        if self._pump is not None and not self._pump.done():
            self._pump.cancel()
        super().on_connection_close()


class NotebookTasksHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        await self.scope()
        path = self.get_query_argument("path", "")
        cells = self.notebook(self.os_path(path), path)
        try:
            tasks = _notebook.find_tasks(cells)
        except _notebook.NotebookError as err:
            raise tornado.web.HTTPError(err.status, err.message) from None
        self.finish(json.dumps({"path": path, "tasks": [t.to_json() for t in tasks]}))


def _short(err: BaseException, limit: int = 200) -> str:
    text = str(err)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def handlers() -> list[tuple[str, Any]]:
    from flyte_jupyter.server_ext._ws import UpdatesSocket

    base = url_path_join("/flyte", "api")
    return [
        (url_path_join(base, "runs"), RunsHandler),
        (url_path_join(base, "runs", _NAME), RunHandler),
        (url_path_join(base, "runs", _NAME, "abort"), AbortHandler),
        (url_path_join(base, "runs", _NAME, "rerun"), RerunHandler),
        (url_path_join(base, "runs", _NAME, "actions", _ACTION), ActionHandler),
        (url_path_join(base, "runs", _NAME, "actions", _ACTION, "logs"), LogsHandler),
        (url_path_join(base, "runs", _NAME, "labels"), LabelsHandler),
        (url_path_join(base, "status"), StatusHandler),
        (url_path_join(base, "notebook-tasks"), NotebookTasksHandler),
        (url_path_join(base, "ws"), UpdatesSocket),
    ]

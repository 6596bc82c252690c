"""REST handlers under /flyte/api/. Every one is authenticated; POSTs go through Jupyter's XSRF
check (the browser sends the `_xsrf` cookie as X-XSRFToken; token-authenticated clients are
exempt, as everywhere in Jupyter). Errors are JSON: {"message": ...}, with a 4xx the panel shows."""

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
_NAME = r"(?P<name>[\w.\-]+)"
_ACTION = r"(?P<action>[\w.\-]+)"


class _FlyteHandler(APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def manager(self) -> RunsManager:
        return self.settings["flyte_runs_manager"]

    def scope(self, body: dict[str, Any] | None = None) -> Scope:
        """Endpoint/project/domain from the query string or the JSON body (the panel's settings)."""
        src = body or {}

        def pick(key: str) -> str:
            value = src.get(key) if key in src else self.get_query_argument(key, "")
            return str(value or "").strip()

        return Scope(pick("endpoint"), pick("project"), pick("domain"))

    def body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except json.JSONDecodeError as err:
            raise tornado.web.HTTPError(400, f"request body is not JSON: {err}") from None
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
                message = err.log_message % err.args if err.args else err.log_message
            elif not isinstance(err, tornado.web.HTTPError):
                message = f"{type(err).__name__}: {err}"
        self.finish(json.dumps({"message": message}))

    async def call(self, coro: Any) -> Any:
        try:
            return await coro
        except (ManagerError, _notebook.NotebookError) as err:
            raise tornado.web.HTTPError(err.status, err.message.replace("%", "%%")) from None

    def os_path(self, path: str) -> Path:
        """The notebook's file, refusing paths that leave the server's root directory."""
        try:
            return resolve_notebook(self.manager.root_dir, path)
        except ManagerError as err:
            raise tornado.web.HTTPError(err.status, err.message.replace("%", "%%")) from None


class RunsHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        phase = self.get_query_argument("phase", "") or None
        try:
            limit = int(self.get_query_argument("limit", "100"))
        except ValueError:
            raise tornado.web.HTTPError(400, "`limit` must be a whole number") from None
        runs = await self.call(self.manager.list_runs(self.scope(), phase=phase, limit=limit))
        self.finish(json.dumps({"runs": runs}))

    @tornado.web.authenticated
    @authorized
    async def post(self) -> None:
        body = self.body()
        path = str(body.get("path") or "")
        task = str(body.get("task") or "")
        inputs = body.get("inputs") or {}
        if not task:
            raise tornado.web.HTTPError(400, "`task` is required: the name of a task the notebook defines")
        if not isinstance(inputs, dict):
            raise tornado.web.HTTPError(400, "`inputs` must be an object mapping input names to values")
        submission = Submission(path=path, os_path=self.os_path(path), task=task, inputs=inputs)
        run = await self.call(self.manager.submit(self.scope(body), submission))
        self.set_status(201)
        self.finish(json.dumps(run))


class RunHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        run = await self.call(self.manager.get_run(self.scope(), name))
        self.finish(json.dumps(run))


class ActionHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, action: str) -> None:
        info = await self.call(self.manager.get_action(self.scope(), name, action))
        self.finish(json.dumps(info))


class AbortHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        run = await self.call(self.manager.abort(self.scope(self.body()), name))
        self.finish(json.dumps(run))


class RerunHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        run = await self.call(self.manager.rerun(self.scope(self.body()), name))
        self.set_status(201)
        self.finish(json.dumps(run))


class LogsHandler(_FlyteHandler):
    """Plain text; with ?follow=1 the response streams until the action's attempt ends, or until
    the browser goes away (the backend stream is cancelled then, not at the next line)."""

    _pump: asyncio.Task[None] | None = None

    @tornado.web.authenticated
    @authorized
    async def get(self, name: str, action: str) -> None:
        follow = self.get_query_argument("follow", "") in ("1", "true", "yes")
        self._pump = asyncio.ensure_future(self._stream(name, action, follow))
        try:
            await self._pump
        except asyncio.CancelledError:
            return  # the browser left
        self.finish(set_content_type="text/plain; charset=utf-8")

    async def _stream(self, name: str, action: str, follow: bool) -> None:
        stream = self.manager.logs(self.scope(), name, action, follow)
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
                raise tornado.web.HTTPError(err.status, err.message.replace("%", "%%")) from None
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
        path = self.get_query_argument("path", "")
        os_path = self.os_path(path)
        try:
            cells = _notebook.read_notebook(os_path, path)
        except _notebook.NotebookError as err:
            raise tornado.web.HTTPError(err.status, err.message.replace("%", "%%")) from None
        tasks = _notebook.find_tasks(cells)
        self.finish(json.dumps({"path": path, "tasks": [t.to_json() for t in tasks]}))


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
        (url_path_join(base, "notebook-tasks"), NotebookTasksHandler),
        (url_path_join(base, "ws"), UpdatesSocket),
    ]

"""REST handlers of the panel's Tasks view: tasks deployed to the backend, and launching one.

    GET  /flyte/api/tasks?project&domain&name&latest=1   {"tasks": [rows of `tasks list --json`]}
    GET  /flyte/api/tasks/NAME?project&domain&version=   one version (the newest without one)
    POST /flyte/api/tasks/NAME/runs                      {project, domain, version, inputs, run_name?}

A launch runs the registered version (its code bundle and image, never anything of the server's),
with inputs checked by their registered types first: a value that does not fit is a 400 naming it,
`{"message", "field", "expected"}`, and nothing is written. A refusal of the backend (limits, a
run name taken) comes back with the backend's own words. Auth, XSRF and the endpoint check are
those of every handler here (`_FlyteHandler`).
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join

from flyte_jupyter.server_ext._handlers import _NAME, _FlyteHandler
from flyte_jupyter.server_ext._launch import LaunchInputError

_MAX_TEXT = 256  # longest version or run name a request may send


def _text(value: Any, key: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise tornado.web.HTTPError(400, f"`{key}` must be a string")
    value = value.strip()
    if len(value) > _MAX_TEXT or any(ord(c) < 32 for c in value):
        raise tornado.web.HTTPError(400, f"`{key}` must be at most {_MAX_TEXT} printable characters")
    return value


class TasksHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        scope = await self.scope()
        name = _text(self.get_query_argument("name", ""), "name") or None
        latest = self.get_query_argument("latest", "") in ("1", "true", "yes")
        tasks = await self.call(self.manager.list_tasks(scope, name=name, latest=latest))
        self.finish(json.dumps({"tasks": tasks}))


class TaskHandler(_FlyteHandler):
    @tornado.web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        scope = await self.scope()
        version = _text(self.get_query_argument("version", ""), "version")
        self.finish(json.dumps(await self.call(self.manager.get_task(scope, name, version))))


class TaskRunsHandler(_FlyteHandler):
    """Launch a registered version; 201 with the new run."""

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        body = self.body()
        scope = await self.scope(body)
        version = _text(body.get("version"), "version")
        run_name = _text(body.get("run_name"), "run_name")
        inputs = body.get("inputs")
        if inputs is None:
            inputs = {}
        if not isinstance(inputs, dict):
            raise tornado.web.HTTPError(400, "`inputs` must be an object mapping input names to values")
        try:
            run = await self.call(self.manager.launch_task(scope, name, version, inputs, run_name))
        except LaunchInputError as err:
            self.set_status(400)
            self.finish(json.dumps({"message": err.message, "field": err.field, "expected": err.expected}))
            return
        self.set_status(201)
        self.finish(json.dumps(run))


def handlers(base: str) -> list[tuple[str, Any]]:
    """The routes of the Tasks view under `base` (/flyte/api)."""
    return [
        (url_path_join(base, "tasks"), TasksHandler),
        (url_path_join(base, "tasks", _NAME), TaskHandler),
        (url_path_join(base, "tasks", _NAME, "runs"), TaskRunsHandler),
    ]

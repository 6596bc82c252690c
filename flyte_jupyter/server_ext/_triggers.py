"""REST for the panel's schedules: the triggers of deployed tasks, with their next and last fires,
and pause / resume.

    GET  /flyte/api/triggers[?task=T&endpoint=&project=&domain=]
         -> {"triggers": [{"name", "task", "version", "schedule", "cron", "timezone",
                           "interval_minutes", "description", "active", "paused",
                           "next_fire", "last_fire", "last_run", "created_at", "project", "domain",
                           "trigger_time_input", "run_label"}]}
    POST /flyte/api/triggers/{name}/pause    body {"task": T?, "endpoint"?, "project"?, "domain"?}
    POST /flyte/api/triggers/{name}/resume   -> the trigger, as one item of the list

Times are epoch seconds or null; `next_fire` is null while paused. `task` is needed only when two
tasks use the trigger's name (409 otherwise, naming them); an unknown trigger is a 404. The runs of
a trigger carry the label `run_label` = NAME (`flyte-jupyter/trigger`) and
`flyte-jupyter/trigger-task` = TASK, so the panel groups them under it.
"""

from __future__ import annotations

import json
from typing import Any

import tornado.web
from jupyter_server.auth.decorator import authorized
from jupyter_server.utils import url_path_join

from flyte_jupyter._internal.runtime.naming import TRIGGER_LABEL
from flyte_jupyter.server_ext._handlers import _FlyteHandler

_TRIGGER = r"(?P<name>[A-Za-z0-9][A-Za-z0-9._\-]{0,62})"


def trigger_json(t: Any) -> dict[str, Any]:
    spec = t.spec
    return {
        "name": spec.name, "task": t.task_name, "version": t.task_version, "schedule": t.schedule,
        "cron": spec.cron or None, "timezone": (spec.timezone or "UTC") if spec.cron else None,
        "interval_minutes": spec.interval_minutes or None, "description": spec.description,
        "active": t.active, "paused": not t.active, "next_fire": t.next_fire or None,
        "last_fire": t.last_fire or None, "last_run": t.last_run or None, "created_at": t.created_at,
        "project": t.project, "domain": t.domain, "trigger_time_input": spec.trigger_time_input or None,
        "run_label": TRIGGER_LABEL,
    }


class _TriggersBase(_FlyteHandler):
    def task_of(self, body: dict[str, Any]) -> str:
        task = body.get("task") if "task" in body else self.get_query_argument("task", "")
        if task is not None and not isinstance(task, str):
            raise tornado.web.HTTPError(400, "`task` must be a string")
        if task and len(task) > 512:
            raise tornado.web.HTTPError(400, "`task` is too long")
        return task or ""


class TriggersHandler(_TriggersBase):
    @tornado.web.authenticated
    @authorized
    async def get(self) -> None:
        scope = await self.scope()
        found = await self.call(self.manager.list_triggers(scope, self.task_of({})))
        self.finish(json.dumps({"triggers": [trigger_json(t) for t in found]}))


class TriggerStateHandler(_TriggersBase):
    """POST .../pause or .../resume."""

    @tornado.web.authenticated
    @authorized
    async def post(self, name: str, verb: str) -> None:
        body = self.body()
        scope = await self.scope(body)
        t = await self.call(self.manager.set_trigger_active(scope, name, verb == "resume", self.task_of(body)))
        self.finish(json.dumps(trigger_json(t)))


def handlers() -> list[tuple[str, Any]]:
    base = url_path_join("/flyte", "api", "triggers")
    return [(base, TriggersHandler), (url_path_join(base, _TRIGGER, r"(?P<verb>pause|resume)"), TriggerStateHandler)]

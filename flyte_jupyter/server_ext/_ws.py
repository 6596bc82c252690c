"""Live updates for the panel over one websocket per browser tab.

Messages to the browser: {"type": "run", "run": {...}} when a run in the list changes, and
{"type": "action", "run": {...}, "action": {...}} for each change of an action in a watched run,
plus {"type": "error", "message": ...} when a watch fails. The browser sends {"watch": name} and
{"unwatch": name}.

The hub keeps one backend watch per (scope, run) and one run-list watch per scope, shared by
every tab that wants them, and stops each when its last tab leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from jupyter_core.utils import ensure_async
from jupyter_server.auth.decorator import ws_authenticated
from jupyter_server.base.handlers import JupyterHandler
from tornado import web, websocket

from flyte_jupyter.server_ext._manager import ManagerError, RunsManager, Scope

_RETRY_SECONDS = 2.0


class _Feed:
    """One shared producer (a run watch or a run-list watch) and the sockets that receive it."""

    def __init__(self) -> None:
        self.subscribers: set[Any] = set()
        self.task: asyncio.Task[None] | None = None

    def send(self, message: dict[str, Any]) -> None:
        text = json.dumps(message)
        for socket in list(self.subscribers):
            socket.send_text(text)


class UpdatesHub:
    def __init__(self, manager: RunsManager, log: logging.Logger, poll_interval: float = 1.0) -> None:
        self.manager = manager
        self.log = log
        self.poll_interval = poll_interval
        self._runs: dict[tuple[Scope, str], _Feed] = {}
        self._lists: dict[Scope, _Feed] = {}

    # -- subscriptions ----------------------------------------------------------------------------

    def join(self, socket: Any) -> None:
        feed = self._lists.get(socket.scope)
        if feed is None:
            feed = self._lists[socket.scope] = _Feed()
            feed.task = asyncio.ensure_future(self._follow_list(socket.scope, feed))
        feed.subscribers.add(socket)

    def leave(self, socket: Any) -> None:
        for run in list(socket.watched):
            self.unwatch(socket, run)
        feed = self._lists.get(socket.scope)
        if feed is not None:
            feed.subscribers.discard(socket)
            if not feed.subscribers:
                self._stop(self._lists.pop(socket.scope))

    def watch(self, socket: Any, run: str) -> None:
        key = (socket.scope, run)
        feed = self._runs.get(key)
        if feed is None:
            feed = self._runs[key] = _Feed()
        if feed.task is None or feed.task.done():  # new, or ended (e.g. the run did not exist yet)
            feed.task = asyncio.ensure_future(self._watch_run(socket.scope, run, feed))
        feed.subscribers.add(socket)
        socket.watched.add(run)

    def unwatch(self, socket: Any, run: str) -> None:
        socket.watched.discard(run)
        key = (socket.scope, run)
        feed = self._runs.get(key)
        if feed is not None:
            feed.subscribers.discard(socket)
            if not feed.subscribers:
                self._stop(self._runs.pop(key))

    def watcher_count(self) -> int:
        """How many backend watches are open (one per watched run, however many tabs)."""
        return len(self._runs)

    @staticmethod
    def _stop(feed: _Feed) -> None:
        if feed.task is not None:
            feed.task.cancel()

    async def close(self) -> None:
        feeds = list(self._runs.values()) + list(self._lists.values())
        self._runs.clear()
        self._lists.clear()
        for feed in feeds:
            self._stop(feed)
        for feed in feeds:
            if feed.task is not None:
                with contextlib.suppress(BaseException):
                    await feed.task

    # -- producers --------------------------------------------------------------------------------

    async def _follow_list(self, scope: Scope, feed: _Feed) -> None:
        """Forward the manager's run changes; reopen after a failure (backend starting or gone)."""
        while True:
            try:
                async for run in self.manager.watch_runs(scope, self.poll_interval):
                    feed.send({"type": "run", "run": run})
            except asyncio.CancelledError:
                raise
            except Exception as err:
                self.log.debug("flyte_jupyter: watching the run list failed: %s", err)
            await asyncio.sleep(_RETRY_SECONDS)

    async def _watch_run(self, scope: Scope, name: str, feed: _Feed) -> None:
        while True:
            try:
                detail = await self.manager.get_run(scope, name)
                run = {k: v for k, v in detail.items() if k != "actions"}
                async for action in self.manager.watch(scope, name):
                    if action.get("name") == "a0" and action.get("parent") is None:
                        run = dict(run, phase=action["phase"], error=action.get("error"))
                        if action.get("ended_at"):
                            run["ended_at"] = action["ended_at"]
                        feed.send({"type": "action", "run": run, "action": action})
                        feed.send({"type": "run", "run": run})
                    else:
                        feed.send({"type": "action", "run": run, "action": action})
                return
            except asyncio.CancelledError:
                raise
            except ManagerError as err:
                feed.send({"type": "error", "run": None, "message": err.message})
                if err.status == 404:
                    return
            except Exception as err:
                self.log.warning("flyte_jupyter: watching %s failed: %s", name, err)
                feed.send({"type": "error", "run": None, "message": f"watching {name} failed: {err}"})
            await asyncio.sleep(_RETRY_SECONDS)


class UpdatesSocket(JupyterHandler, websocket.WebSocketHandler):
    """/flyte/api/ws: authenticated like every Jupyter websocket; its scope (`?endpoint=`,
    `?project=`, `?domain=`) is checked by the runs manager before the upgrade."""

    auth_resource = "flyte"
    scope: Scope

    def get_login_url(self) -> str:
        """A websocket cannot follow a redirect to the login page: refuse instead."""
        raise web.HTTPError(403)

    async def pre_get(self) -> None:
        user = self.current_user
        allowed = await ensure_async(self.authorizer.is_authorized(self, user, "read", self.auth_resource))
        if not allowed:
            raise web.HTTPError(403)

    @ws_authenticated
    async def get(self, *args: Any, **kwargs: Any) -> None:
        await self.pre_get()
        # before the upgrade: a refused endpoint is a plain 403 response, and nothing is watched
        scope = Scope(self.get_query_argument("endpoint", "").strip(), self.get_query_argument("project", "").strip(),
                      self.get_query_argument("domain", "").strip())
        try:
            self.scope = await self.hub.manager.check_scope(scope)
        except ManagerError as err:
            raise web.HTTPError(err.status, err.message) from None
        res = super().get(*args, **kwargs)
        if res is not None:
            await res

    @property
    def hub(self) -> UpdatesHub:
        return self.settings["flyte_updates_hub"]

    def open(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        self.watched: set[str] = set()
        self.hub.join(self)

    def on_message(self, message: str | bytes) -> None:
        try:
            data = json.loads(message)
        except (TypeError, ValueError):
            self.send_text(json.dumps({"type": "error", "run": None, "message": "messages must be JSON"}))
            return
        if not isinstance(data, dict):
            return
        if isinstance(data.get("watch"), str):
            self.hub.watch(self, data["watch"])
        if isinstance(data.get("unwatch"), str):
            self.hub.unwatch(self, data["unwatch"])

    def on_close(self) -> None:
        if hasattr(self, "watched"):
            self.hub.leave(self)

    def send_text(self, text: str) -> None:
        try:
            self.write_message(text)
        except websocket.WebSocketClosedError:
            self.on_close()

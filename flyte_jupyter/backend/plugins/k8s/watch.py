"""One list+watch loop in a thread, feeding an asyncio loop: the informer pattern in small.

Why a thread: the official client is synchronous. The loop lists once, then watches from the list's
resourceVersion; when a watch request ends or its connection drops it resumes from the last
resourceVersion it saw (so nothing is lost or repeated), and when the server answers 410 Gone (the
version is too old) it lists again and hands the full set to ``on_sync`` so that the consumer can
notice objects that disappeared while it was not looking.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import threading
from typing import Any, Callable

log = logging.getLogger(__name__)

Event = tuple[str, dict[str, Any]]  # ("ADDED" | "MODIFIED" | "DELETED", object)


class ListWatch:
    """Keeps one watch alive; calls ``on_events`` / ``on_sync`` on ``loop`` (never in the thread)."""

    def __init__(
        self,
        name: str,
        list_fn: Callable[..., Any],
        *,
        label_selector: str,
        loop: asyncio.AbstractEventLoop,
        on_events: Callable[[list[Event]], None],
        on_sync: Callable[[list[dict[str, Any]]], None],
        timeout_seconds: int = 240,
    ) -> None:
        self.name = name
        self._list = list_fn
        self._selector = label_selector
        self._loop = loop
        self._on_events = on_events
        self._on_sync = on_sync
        self._timeout = timeout_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._resp: Any = None
        self.resource_version: str | None = None
        self.synced = threading.Event()
        #: counters for `backend status` and tests: lists done, watch requests resumed, 410s seen.
        self.stats = {"lists": 0, "resumes": 0, "gone": 0, "errors": 0}

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"k8s-watch-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        _shutdown(self._resp)  # unblocks the read in the watch thread
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _deliver(self, fn: Callable[[Any], None], arg: Any) -> None:
        if not self._stop.is_set() and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(fn, arg)

    def _relist(self) -> None:
        resp = self._list(label_selector=self._selector, _preload_content=False, _request_timeout=60)
        try:
            body = json.loads(resp.data)
        finally:
            resp.release_conn()
        self.resource_version = body["metadata"]["resourceVersion"]
        self.stats["lists"] += 1
        self._deliver(self._on_sync, body.get("items") or [])
        self.synced.set()

    def _watch_once(self) -> None:
        resp = self._list(
            label_selector=self._selector, watch=True, resource_version=self.resource_version,
            allow_watch_bookmarks=True, timeout_seconds=self._timeout, _preload_content=False,
            _request_timeout=(10, self._timeout + 30),
        )
        self._resp = resp
        try:
            batch: list[Event] = []
            buf = b""
            for chunk in resp.stream(amt=None, decode_content=False):
                buf += chunk
                *lines, buf = buf.split(b"\n")
                for line in lines:
                    if not line.strip():
                        continue
                    ev = json.loads(line)
                    etype, obj = ev.get("type"), ev.get("object") or {}
                    if etype == "ERROR":
                        if obj.get("code") == 410:
                            raise _Gone(obj.get("message", "410 Gone"))
                        raise RuntimeError(f"watch error: {obj.get('message', obj)}")
                    rv = (obj.get("metadata") or {}).get("resourceVersion")
                    if rv:
                        self.resource_version = rv
                    if etype != "BOOKMARK":
                        batch.append((etype, obj))
                if batch:
                    self._deliver(self._on_events, batch)
                    batch = []
                if self._stop.is_set():
                    return
        finally:
            self._resp = None
            try:
                resp.release_conn()
            except Exception:
                pass

    def _run(self) -> None:
        from kubernetes.client.rest import ApiException

        backoff = 0.2
        while not self._stop.is_set():
            try:
                if self.resource_version is None:
                    self._relist()
                else:
                    self.stats["resumes"] += 1
                self._watch_once()
                backoff = 0.2
            except _Gone as e:
                log.info("watch %s: %s; listing again", self.name, e)
                self.stats["gone"] += 1
                self.resource_version = None
            except ApiException as e:
                if e.status == 410:
                    self.stats["gone"] += 1
                    self.resource_version = None
                    continue
                self._pause(e, backoff)
                backoff = min(backoff * 2, 5.0)
            except Exception as e:  # connection dropped, server restarted: resume from resourceVersion
                if self._stop.is_set():
                    return
                self._pause(e, backoff)
                backoff = min(backoff * 2, 5.0)

    def _pause(self, e: Exception, delay: float) -> None:
        self.stats["errors"] += 1
        log.debug("watch %s interrupted (%s); resuming in %.1fs", self.name, e, delay)
        self._stop.wait(delay)


def _shutdown(resp: Any) -> None:
    """Shut the socket under a streaming response down; closing it from another thread would block
    until the next byte arrives (TLS), which for a quiet watch is up to a minute."""
    if resp is None:
        return
    sock = getattr(getattr(resp, "connection", None), "sock", None)
    try:
        if sock is not None:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class _Gone(Exception):
    """The server no longer has the resourceVersion we asked to resume from."""

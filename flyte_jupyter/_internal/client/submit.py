"""Submitting a run to a backend, and the RemoteRun object that follows it.

`submit_run(options, task, args, kwargs)` is what `flyte.run` / `with_runcontext(mode="remote")`
call: resolve the images, build and upload the code bundle (once per content), encode the inputs,
CreateRun, and return a `RemoteRun` at once. The RemoteRun keeps a live RunState through one watch
stream (on a background loop), so widgets and `wait()` work exactly as for a local run.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any, Awaitable, Callable, TypeVar

from flyte_jupyter import _config
from flyte_jupyter._internal.controllers.run_state import RunState
from flyte_jupyter._internal.wire.models import ActionInfo, Phase
from flyte_jupyter._internal.runtime.naming import ROOT_ACTION
from flyte_jupyter._run import Run
from flyte_jupyter.errors import ActionFailedError
from flyte_jupyter._internal.client.grpc_client import BackendClient

T = TypeVar("T")

_clients: dict[tuple, BackendClient] = {}
_storage_roots: dict[tuple, str] = {}


def background_loop() -> asyncio.AbstractEventLoop:
    """The loop that owns every remote call of this process (one channel)."""
    from flyte_jupyter._internal.runtime.loops import background_loop as named_loop

    return named_loop("flyte-remote-loop")


def call(make: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
    """Run a coroutine on the background loop from sync code and return its result."""
    return asyncio.run_coroutine_threadsafe(make(), background_loop()).result(timeout)


async def acall(make: Callable[[], Awaitable[T]]) -> T:
    """The same from async code (any loop)."""
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), background_loop()))


def client_for(cfg: Any = None) -> BackendClient:
    """The shared client of the configured backend; with none configured, of the embedded backend
    (started on demand) - without switching the process to remote mode."""
    cfg = cfg or _config.current()
    if cfg.endpoint:
        key = (cfg.endpoint, cfg.api_key, cfg.project, cfg.domain)
        if key not in _clients:
            _clients[key] = BackendClient.from_config(cfg)
        return _clients[key]
    from flyte_jupyter._internal.client.embedded import ensure_backend

    path = ensure_backend()
    client = BackendClient.from_file(path)
    key = (client.endpoint, client.token, client.project, client.domain)
    return _clients.setdefault(key, client)


async def storage_root_of(client: BackendClient) -> str:
    key = (client.endpoint, client.token)
    if key not in _storage_roots:
        _storage_roots[key] = (await client.status())["storage_root"]
    return _storage_roots[key]


def _deepest_failure(actions: dict[str, Any]) -> Any:
    def depth(name: str) -> int:
        d, seen = 0, set()
        while name in actions and actions[name].parent and name not in seen:
            seen.add(name)
            name = actions[name].parent
            d += 1
        return d

    failed = [a for a in actions.values() if a.phase in (Phase.FAILED, Phase.TIMED_OUT) and a.error is not None]
    if not failed:
        return actions.get(ROOT_ACTION)
    return max(failed, key=lambda a: (depth(a.name), a.ended_at or 0))


class RemoteRun(Run):
    """A run on a backend: same surface as a local Run (name, url, phase, wait, watch, outputs,
    abort, show_logs, the actions tree)."""

    mode = "remote"

    def __init__(self, name: str, task: Any, client: BackendClient, project: str, domain: str, url: str) -> None:
        super().__init__(name, task, RunState(name))
        self.client = client
        self.project = project
        self.domain = domain
        self._url = url
        self._latest: dict[str, Any] = {}
        self._synced = threading.Event()
        self._follow_error: BaseException | None = None
        self._follower = asyncio.run_coroutine_threadsafe(self._follow(), background_loop())

    @property
    def url(self) -> str:
        return self._url

    async def _follow(self) -> None:
        from flyte_jupyter._internal.wire.convert import action_event

        try:
            async for batch in self.client.watch_raw(self.name, project=self.project, domain=self.domain):
                for action in batch.actions:
                    self._latest[action.id.name] = action
                    self.state.apply(action_event(action))
                if batch.synced:
                    self._synced.set()
                root = self._latest.get(ROOT_ACTION)
                if root is not None and self._synced.is_set() and _all_terminal(self._latest):
                    return
        except BaseException as exc:  # noqa: BLE001 - surfaced by wait()/outputs()
            self._follow_error = exc
            self.state.wait_for_change(0)
        finally:
            self._synced.set()

    def wait(self, timeout: float | None = None, quiet: bool = True) -> "RemoteRun":
        """Block until the run ends (or `timeout` seconds pass); `quiet=False` prints progress."""
        if not quiet:
            return super().wait(timeout, quiet)  # prints while it calls back into this method
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.done:
            if self._follower.done():
                if self._follow_error is not None:
                    raise self._follow_error
                break
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"run {self.name} still {self.phase.value} after {timeout} s")
            self.state.wait_for_change(0.25 if left is None else min(left, 0.25))
        # The root has ended; children it took down end a moment later: let the tree settle.
        try:
            self._follower.result(timeout=10 if deadline is None else max(0.0, min(10, deadline - time.monotonic())))
        except Exception:  # noqa: BLE001 - a tree still settling is not an error of wait()
            pass
        return self

    async def wait_aio(self, timeout: float | None = None) -> "RemoteRun":
        """`await run.wait_aio()` from async code without blocking the loop."""
        await asyncio.get_running_loop().run_in_executor(None, lambda: self.wait(timeout))
        return self

    def outputs(self) -> Any:
        """The root task's outputs; raises ActionFailedError naming the deepest failed action."""
        self.wait()
        root = self._latest.get(ROOT_ACTION)
        if root is None:
            raise RuntimeError(f"run {self.name} has no root action")
        from flyte_jupyter._internal.wire.proto import common_pb2 as pb

        if root.phase == pb.PHASE_SUCCEEDED:
            from flyte_jupyter._internal.runtime import storage as _storage
            from flyte_jupyter._internal.runtime.spec import decode_output

            data = _storage.get_bytes(_storage.join(root.outputs_uri, "outputs.pb"))
            return decode_output(self.task, data)
        info = _deepest_failure(self.state.actions)
        err = info.error if info is not None else None
        raise ActionFailedError(
            action=info.name if info else ROOT_ACTION, task=info.task if info else "",
            kind=err.kind if err else self.phase.value, message=err.message if err else f"run {self.phase.value}",
            attempts=info.attempts if info else 1, max_attempts=self._latest.get(info.name).max_attempts if info and info.name in self._latest else 1,
            traceback=err.traceback if err else "", phase=info.phase.value if info else self.phase.value,
        )

    def abort(self, reason: str = "aborted by user") -> None:
        """Abort the run: every live action stops and ends ABORTED."""
        call(lambda: self.client.abort_run(self.name, reason, project=self.project, domain=self.domain), 60)

    def logs(self, action: str = ROOT_ACTION, attempt: int = 0) -> list[str]:
        async def collect() -> list[str]:
            return [line.text async for line in self.client.tail_logs(
                self.name, action, attempt, project=self.project, domain=self.domain)]

        return call(collect, 60)

    def show_logs(self, action: str = ROOT_ACTION, attempt: int = 0) -> str:
        """The action's output (latest attempt by default), printed and returned."""
        text = "\n".join(self.logs(action, attempt))
        print(text)
        return text

    @property
    def actions(self) -> dict[str, ActionInfo]:
        return self.state.actions

    def __repr__(self) -> str:
        return f"<RemoteRun {self.name} {self.phase.value} {self._url}>"


def _all_terminal(actions: dict[str, Any]) -> bool:
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb

    done = {pb.PHASE_SUCCEEDED, pb.PHASE_FAILED, pb.PHASE_ABORTED, pb.PHASE_TIMED_OUT}
    return all(a.phase in done for a in actions.values())


def _images_for(task: Any) -> tuple[str, str]:
    """(the task's image reference, the encoded --image-cache) for this run."""
    try:
        from flyte_jupyter._internal.imagebuild.for_run import resolve_run_images
    except ImportError:
        return "", ""
    images = resolve_run_images(task)
    return images.reference_for(task), images.encoded


def prepare(options: Any, task: Any, args: tuple, kwargs: dict, storage_root: str) -> dict[str, Any]:
    """Everything CreateRun needs, built in the caller's thread (bundling may take a moment)."""
    from flyte_jupyter._internal.runtime.bundle import build_bundle
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.runtime.spec import CodeRef, encode_inputs, task_spec, version_for

    cfg = _config.current()
    project = options.project or cfg.project
    domain = options.domain or cfg.domain
    image, image_cache = _images_for(task)
    bundle = build_bundle(task, storage_root)
    version = options.version or version_for(bundle.digest, image_cache)
    code = CodeRef(bundle.kind, bundle.uri, version, image_cache, task_names=bundle.task_names)
    spec = task_spec(task, code, project, domain, image)
    inputs = task.bind(args, kwargs)
    raw = options.raw_data_path or _storage.join(storage_root, "raw", "inputs")
    data, _, cache_hash = encode_inputs(task, inputs, raw)
    labels = dict(options.labels or {})
    if getattr(options, "source", None):
        labels.setdefault("source", options.source)
    return dict(task=spec, inputs=data, inputs_hash=cache_hash if task.cache.enabled else "",
                run_name=options.name or "", project=project, domain=domain,
                overwrite_cache=options.overwrite_cache, env_vars=dict(options.env_vars or {}), labels=labels,
                raw_data_path=options.raw_data_path or "")


async def submit_run(options: Any, task: Any, args: tuple, kwargs: dict) -> RemoteRun:
    """Start `task(*args, **kwargs)` on the backend and return its RemoteRun (not waiting)."""
    client = client_for()
    storage_root = await acall(lambda: storage_root_of(client))
    loop = asyncio.get_running_loop()
    request = await loop.run_in_executor(None, prepare, options, task, args, kwargs, storage_root)
    summary = await acall(lambda: client.create_run(**request))
    return RemoteRun(summary.name, task, client, summary.project, summary.domain, summary.url)


def submit_run_sync(options: Any, task: Any, args: tuple, kwargs: dict) -> RemoteRun:
    """`submit_run` for sync callers."""
    client = client_for()
    storage_root = call(lambda: storage_root_of(client))
    request = prepare(options, task, args, kwargs, storage_root)
    summary = call(lambda: client.create_run(**request))
    return RemoteRun(summary.name, task, client, summary.project, summary.domain, summary.url)


__all__ = ["RemoteRun", "submit_run", "submit_run_sync", "client_for", "background_loop", "call", "acall"]

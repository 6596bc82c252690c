"""The executor plugin interface: Flyte's plugin machinery in small.

The executor owns an action's life (queue, attempts, retries with backoff, timeouts, abort, cache,
recording phases). A *plugin* owns one thing: turning one attempt of one action into a running
resource somewhere (a local process, a Kubernetes pod, ...) and telling the executor how it ends.

For every attempt the executor calls, in this order:

1. ``handle = await plugin.launch(spec, on_status)``: build the resource for ``spec`` (a
   :class:`LaunchSpec`) and start it. Return a *handle*: a short string that identifies the resource
   (a pid, a pod name). The executor persists it, so that after a backend restart
   :meth:`ExecutorPlugin.recover` can find the resource again.
2. The plugin calls ``on_status(PluginStatus(...))`` from the event loop as the resource moves:
   optionally ``Phase.INITIALIZING`` (pulling an image, scheduling) and ``Phase.RUNNING``, and then
   exactly once a terminal status carrying an :class:`Outcome`. Calls after the terminal one are
   ignored. ``on_status`` is a plain function; it never blocks.
3. ``await plugin.abort(handle, spec, reason)`` when the user aborts, the attempt times out, or the backend
   shuts down an attempt. The plugin stops the whole resource (every process of it) and still reports
   a terminal status (usually ``Outcome(kind="aborted")``); the executor decides the phase.
4. ``plugin.logs(spec, handle, follow=...)`` streams the attempt's stdout/stderr as :class:`LogLine` s,
   during and after the attempt (``follow=True`` keeps waiting for new lines until the attempt ends),
   in the order the process wrote them where the plugin can tell, and a line still being written
   (a ``\r`` progress bar) as a ``partial`` line before it ends.

After a backend restart the executor first reads each unfinished attempt's result from storage
(an attempt that ended while the backend was down is collected, never relaunched), then calls
``recover(spec, handle, on_status)`` for a recorded handle, ``locate(spec)`` for the attempts the
crash may have kept from being recorded, and ``recovered()`` once at the end.

The entrypoint an attempt runs writes ``outputs.pb`` or ``error.pb`` under ``spec.outputs_path``;
the executor reads those, so a plugin only reports *how the resource ended* (exit code, OOM, lost).

Before ``launch`` (and before ``recover``/``locate``) the executor calls ``plugin.build(spec)``,
Flyte's ``BuildResource``: from the spec and its custom config, describe what will run (a query, a
cluster plan, a pod manifest) without starting anything; the result rides in ``spec.resource`` to
``launch``. A spec the plugin can never run raises :class:`BuildError`: the attempt fails with that
message and is not retried.

A plugin is chosen by task type through a :class:`PluginRegistry`. The backend config knob
``executor`` ("local", the default, "docker" or "kubernetes") selects which plugin serves the default task
type "python"; ``executor_config`` (a dict) is handed to the plugin's factory. Every other
installed plugin whose factory declares ``task_types`` (e.g. ``create_plugin.task_types =
("sql",)``) serves those types beside it (:func:`default_registry`); such a plugin gets the
python executor as ``PluginConfig.runner``, for the part of its action that is the user's code.
A type no plugin serves is refused (``PluginRegistry.get`` raises, naming what is installed).
"""

from __future__ import annotations

import abc
import dataclasses
import enum
import importlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, ClassVar, Protocol

from flyte_jupyter._internal.wire.models import Phase

if TYPE_CHECKING:
    from flyte_jupyter._internal.wire.proto import common_pb2 as pb
    from flyte_jupyter._internal.wire.proto import queue_service_pb2 as queue_pb

log = logging.getLogger("flyte_jupyter.backend")

# Executor plugins are found by entry point, as ipyparallel finds its launchers: a distribution
# declares `name = "module:factory"` in this group (flyte-jupyter declares "local" and
# "kubernetes"); a factory takes a PluginConfig and returns an ExecutorPlugin. A module is imported
# only when selected, so a backend that runs local processes never imports the Kubernetes client.
ENTRY_POINT_GROUP = "flyte_jupyter.executor_plugins"


@dataclasses.dataclass(frozen=True)
class SecretValue:
    """One secret an attempt gets, as its task declared it: the value in the env var `env_var`,
    or (`mount` set) in a file whose path `$<env_var>_FILE` holds. Never printed (`repr`)."""

    name: str
    env_var: str
    value: bytes = dataclasses.field(repr=False)
    mount: str = ""


@dataclasses.dataclass(frozen=True)
class LaunchSpec:
    """Everything a plugin needs to start one attempt of one action.

    ``args`` are the entrypoint's arguments with every template variable already filled in (the
    command is ``python -m flyte_jupyter.entrypoint *args``); a plugin picks the interpreter: the
    local plugin uses the image's Python (a virtual environment path) or the backend's own, a
    Kubernetes plugin uses the container image's ``python``.
    """

    run_name: str
    action_name: str
    attempt: int  # 1-based
    project: str
    domain: str
    task_name: str
    task_version: str
    task_type: str
    args: tuple[str, ...]
    env: dict[str, str]
    outputs_path: str  # URI prefix; the entrypoint writes outputs.pb or error.pb here
    workdir: str  # a fresh local directory for this attempt (local plugins run in it)
    log_dir: str  # a local directory where a plugin may keep this attempt's stdout/stderr
    image: str = ""  # "" = the backend's own environment; a venv path or a container image
    cpu: float | None = None  # cores (limit)
    memory_bytes: int | None = None  # memory limit in bytes; exceeding it must end as OOM
    cpu_request: float | None = None  # cores requested, where less than the limit (None: the limit)
    memory_request: int | None = None  # bytes requested, where less than the limit (None: the limit)
    memory_text: str | None = None  # the limit as the user wrote it, e.g. "200Mi", for messages
    gpu: int | None = None
    timeout: float | None = None  # seconds; the executor enforces it by calling abort()
    custom: dict[str, Any] = dataclasses.field(default_factory=dict)  # task's plugin config
    environment: str = ""  # the TaskEnvironment name (pools of reusable workers key on it)
    reuse: dict[str, Any] | None = None  # ReusePolicy fields when the environment is reusable
    loader: dict[str, str] = dataclasses.field(default_factory=dict)  # the entrypoint's code-loading flags
    # Exactly the secrets the task declares, opened for this attempt (never in `env`, never logged).
    secrets: tuple[SecretValue, ...] = dataclasses.field(default=(), repr=False)
    resource: Any = None  # what the plugin's build() made of this attempt (see the module docstring)

    @property
    def entrypoint_command(self) -> list[str]:
        """The module invocation, without the interpreter: ``-m flyte_jupyter.entrypoint *args``."""
        return ["-m", "flyte_jupyter.entrypoint", *self.args]


class OutcomeKind(str, enum.Enum):
    """How a resource ended, as far as the plugin can tell."""

    EXITED = "exited"  # the process/container ended by itself; exit_code says how
    OOM = "oom"  # killed for exceeding its memory limit
    ABORTED = "aborted"  # stopped because abort() was called
    LOST = "lost"  # vanished (node gone, process killed from outside, backend restart)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """Terminal result of one attempt's resource."""

    kind: OutcomeKind
    exit_code: int | None = None
    message: str = ""
    # What the attempt cost, when the plugin could measure it (None: not known).
    cpu_seconds: float | None = None  # user + system CPU time of its processes
    peak_memory_bytes: int | None = None  # peak resident set size

    @property
    def succeeded(self) -> bool:
        return self.kind is OutcomeKind.EXITED and self.exit_code == 0


def oom_message(action: str, task: str, limit: str | None) -> str:
    """What an action killed for its memory says (the limit as the user wrote it, when known)."""
    return (f"action {action} (task {task}) was killed: OOM, it used more memory than its limit of "
            f"{limit or '?'}; raise Resources(memory=...) or use less memory")


@dataclasses.dataclass(frozen=True)
class PluginStatus:
    """One status report: a non-terminal phase, or a terminal ``outcome``."""

    phase: Phase | None = None  # INITIALIZING or RUNNING for progress reports
    outcome: Outcome | None = None  # set exactly once, on the terminal report
    message: str = ""

    @property
    def terminal(self) -> bool:
        return self.outcome is not None


StatusCallback = Callable[[PluginStatus], None]


@dataclasses.dataclass(frozen=True)
class LogLine:
    """One line of an attempt's output."""

    stream: str  # "stdout" or "stderr"
    text: str  # without the trailing newline
    timestamp: float = 0.0
    partial: bool = False  # the line is not ended yet: the next line of the stream continues it


@dataclasses.dataclass(frozen=True)
class PluginConfig:
    """What the backend hands a plugin factory."""

    data_dir: Path
    endpoint: str  # the backend's gRPC endpoint as actions should dial it
    settings: dict[str, Any] = dataclasses.field(default_factory=dict)  # `executor_config`
    max_parallelism: int = 0  # the executor's concurrency bound (0 = unbounded)
    runner: "ExecutorPlugin | None" = None  # task-type plugins: the executor that runs python code


class BuildError(Exception):
    """A plugin's build step refuses a spec it can never run: the attempt fails, not retried."""

    def __init__(self, message: str, kind: str = "BuildError") -> None:
        super().__init__(message)
        self.kind = kind


class ChildRefused(Exception):
    """A nested call through the `ChildGateway` was refused: `code` is the gRPC status name the same
    request would get from the queue or state service, `message` says what to fix."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ChildGateway(Protocol):
    """What the backend offers a plugin whose attempts run on its machine: their nested calls
    (enqueue a child, watch a parent's children end) without the network, with every check of
    EnqueueActions and Watch (`services/children.py`). Whether the asker may act for that parent
    is the plugin's to check: only for an action it runs now. Failures raise `ChildRefused`."""

    async def enqueue(self, requests: list["queue_pb.EnqueueActionRequest"]) -> list["queue_pb.EnqueueActionResponse"]:
        """EnqueueActions: check every request, then store them (none if one is bad)."""
        ...

    async def watch(self, parent: "pb.ActionIdentifier",
                    deliver: Callable[["pb.Action"], None]) -> tuple[list["pb.Action"], Callable[[], None]]:
        """Watch `parent`'s children end (terminal changes only): the ended ones now, then
        `deliver` for each one that ends later (after its state is durable); and how to stop."""
        ...


class ExecutorPlugin(abc.ABC):
    """Starts, watches, aborts and reads the logs of attempts. See the module docstring."""

    #: A short name shown in logs and `backend status`, e.g. "local" or "kubernetes".
    name: ClassVar[str] = "plugin"
    #: Task types this plugin serves when registered without an explicit list.
    task_types: ClassVar[tuple[str, ...]] = ("python",)
    #: True when the plugin reports Phase.RUNNING itself (e.g. once a pod's container starts): the
    #: executor then records INITIALIZING when launch() returns. False: RUNNING at once.
    reports_progress: ClassVar[bool] = False
    #: True when attempts run on the backend's machine, so their CPU and memory requests count
    #: against its capacity (executor/admission.py). False: they run elsewhere, where something
    #: else admits them (a Kubernetes cluster's scheduler).
    runs_on_backend_machine: ClassVar[bool] = True
    #: Set by the backend once its services exist, before any launch (`ChildGateway`): nested
    #: calls of this plugin's attempts without the network, for a plugin with a private channel to
    #: them (the local plugin's warm workers). None in a plugin used outside a backend.
    children: "ChildGateway | None" = None

    def build(self, spec: LaunchSpec) -> Any:
        """Flyte's BuildResource: what will run for this attempt, from ``spec`` and ``spec.custom``.

        Pure (it starts nothing: recovery calls it too); the result reaches ``launch`` as
        ``spec.resource``. Raise :class:`BuildError` for a spec that can never run."""
        return None

    async def start(self) -> None:
        """Called once when the backend starts, before any launch (open clients, start pools)."""

    async def close(self) -> None:
        """Called once at shutdown. Must not kill running attempts: they may be recovered later.
        Must end every helper process the plugin started (servers, idle workers) before it returns."""

    @abc.abstractmethod
    async def launch(self, spec: LaunchSpec, on_status: StatusCallback) -> str:
        """Build and start the resource for one attempt; return its handle (a persistable string).

        Raise an exception only when the resource could not be created at all (the executor then
        records a retryable system error for the attempt).
        """

    @abc.abstractmethod
    async def abort(self, handle: str, spec: LaunchSpec, reason: str = "") -> None:
        """Stop the attempt's resource and everything it started. Idempotent.

        `reason` says why ("abort", "timeout", "queued-timeout", or "" for a shutdown), so a plugin
        can record it (the Kubernetes plugin marks a timed-out TaskAction TIMED_OUT)."""

    @abc.abstractmethod
    def logs(self, spec: LaunchSpec, handle: str | None, follow: bool = False) -> AsyncIterator[LogLine]:
        """Stream the attempt's output lines; with ``follow`` keep streaming until it ends."""

    async def recover(self, spec: LaunchSpec, handle: str, on_status: StatusCallback) -> bool:
        """After a backend restart: reattach to a resource that may still be running.

        Return True when the resource was found; the plugin then reports its statuses through
        ``on_status`` as after ``launch``. Return False when it is gone: the executor then reads
        the attempt's result from storage (``outputs.pb``/``error.pb`` under ``spec.outputs_path``:
        it ended while the backend was down), else treats the attempt as lost (retried or failed by
        the task's retry policy). The executor reads that result first, before calling this.
        """
        return False

    async def locate(self, spec: LaunchSpec) -> str | None:
        """After a backend restart: find an attempt whose handle was never recorded (the backend
        died between creating the resource and recording its handle).

        Return None when the attempt's resource was never created (or the plugin cannot tell:
        the executor then launches the attempt), its handle when it still runs (the executor
        then calls ``recover`` with it), or "" when it was created and is gone (the executor
        reads its result from storage, else counts the attempt as lost). Never start anything.
        """
        return None

    async def recovered(self) -> None:
        """Called once after every attempt that ran before a restart was recovered (or found
        gone): stop what an earlier backend left that was not reattached (attempts of runs that
        ended meanwhile, its own helper processes)."""

    def describe(self) -> dict[str, Any]:
        """A few facts for `flyte-jupyter backend status`."""
        return {"name": self.name, "task_types": list(self.task_types)}


class PluginRegistry:
    """Maps a task type to the plugin that runs it; the default plugin serves "python"."""

    def __init__(self) -> None:
        self._by_type: dict[str, ExecutorPlugin] = {}
        self._default: ExecutorPlugin | None = None

    def register(
        self, plugin: ExecutorPlugin, task_types: tuple[str, ...] | None = None, *, default: bool = False
    ) -> None:
        """Serve ``task_types`` (default: the plugin's own list) with ``plugin``; the first
        registration of a type wins, so a configured executor is never displaced by an add-on."""
        for task_type in task_types or plugin.task_types:
            self._by_type.setdefault(task_type, plugin)
        if default or self._default is None:
            self._default = plugin
            self._by_type.setdefault("python", plugin)

    @property
    def default(self) -> ExecutorPlugin | None:
        return self._default

    def task_types(self) -> dict[str, str]:
        """task type -> the name of the plugin serving it."""
        return {t: p.name for t, p in sorted(self._by_type.items())}

    def get(self, task_type: str) -> ExecutorPlugin:
        """The plugin for ``task_type`` ("" means "python"), or LookupError naming what is installed."""
        plugin = self._by_type.get(task_type or "python")
        if plugin is None:
            served = ", ".join(f"{t} ({n})" for t, n in self.task_types().items()) or "none"
            installed = ", ".join(sorted(executor_entry_points())) or "none"
            raise LookupError(
                f"task type {task_type!r} has no executor plugin on this backend; task types served: {served}; "
                f"installed executor plugins: {installed}. Install the plugin package that serves "
                f"{task_type!r} where the backend runs (and restart it), or use a task type listed here")
        return plugin

    def plugins(self) -> list[ExecutorPlugin]:
        """Every distinct registered plugin, the default first (started first, closed last)."""
        seen: dict[int, ExecutorPlugin] = {}
        for plugin in [*([self._default] if self._default else []), *self._by_type.values()]:
            seen[id(plugin)] = plugin
        return list(seen.values())


def executor_entry_points() -> dict[str, Any]:
    """The installed executor plugins: name -> entry point."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _factory(executor: str, found: dict[str, Any]) -> Any:
    if executor in found:
        return found[executor].load()
    if ":" in executor:
        module_name, _, attr = executor.partition(":")
        return getattr(importlib.import_module(module_name), attr)
    names = ", ".join(sorted(found)) or "none (is flyte-jupyter installed? `pip install -e .`)"
    raise ValueError(f"executor {executor!r} is unknown; installed executor plugins: {names}; "
                     "or name a factory as 'package.module:function'")


def _create(name: str, factory: Any, config: PluginConfig) -> ExecutorPlugin:
    plugin = factory(config)
    if not isinstance(plugin, ExecutorPlugin):
        raise TypeError(f"executor {name!r} returned {type(plugin).__name__}, not an ExecutorPlugin")
    return plugin


def load_plugin(executor: str, config: PluginConfig) -> ExecutorPlugin:
    """Create the plugin named by the ``executor`` config knob: an installed plugin's name
    ("local", "kubernetes", ...) or "package.module:factory"."""
    return _create(executor, _factory(executor, executor_entry_points()), config)


def default_registry(executor: str, config: PluginConfig) -> PluginRegistry:
    """The selected executor as the default (it serves "python"), and beside it every installed
    plugin whose factory declares other ``task_types`` (each given the executor as its runner).
    ``executor_config["task_plugins"]``, when set, lists the add-ons to load (default: all)."""
    registry = PluginRegistry()
    default = load_plugin(executor, config)
    registry.register(default, default=True)
    wanted = config.settings.get("task_plugins")
    for name, ep in sorted(executor_entry_points().items()):
        if name == executor or (wanted is not None and name not in wanted):
            continue
        try:
            factory = ep.load()
        except Exception:  # noqa: BLE001 - a broken add-on must not keep the backend from starting
            log.exception("executor plugin %s could not be loaded; its task types are not served", name)
            continue
        types = tuple(t for t in getattr(factory, "task_types", ()) if t != "python")
        if not types:
            continue
        registry.register(_create(name, factory, dataclasses.replace(config, runner=default)), types)
    return registry

"""`flyte.remote.Task`: a task registered on a backend (deployed), by name and version.

    task = flyte.remote.Task.get("hello.main", project="flytesnacks", domain="staging", version="v1")
    run = flyte.run(task, data="hi")          # runs the registered bundle and image, not local code

As in Flyte 2, `Task.get(name, project=, domain=, version=, auto_version=)` needs a version or
`auto_version` ("latest": the newest registered version; "current": the version of the running
task, inside a task), and is lazy: nothing is read from the backend until the task is used (`fetch()`,
an attribute such as `interface`, or a run), so a module can hold references to deployed tasks at
import time. `Task.listall(...)` lists registered versions. Each has Flyte's `.aio` form.

Called from a task that runs on a backend (`await deployed(x=1)`, as Flyte 2's task references
are), it becomes a child action of the caller by reference (`EnqueueAction.task_ref`): the child
runs the registered spec, bundle and image, under a deterministic name like any child, and its
output comes back typed as registered. It must be registered in the run's own project and domain.
Outside a task, or in local mode, calling it is a `RemoteTaskUsageError` saying what to do.

A run of a deployed task names it by reference (`CreateRun.task_ref`): the backend runs the
registered spec, code bundle and image, whatever is on this machine. Its inputs are encoded with
the types the registration recorded (see `_internal/deploy/typeexpr.py`); defaults it recorded are
sent too, so its cache keys are those of a run of the same code. When this process (or the file
the task was deployed from) defines the task differently, the run says so in one line on stderr.
"""

from __future__ import annotations

import inspect
import os
import sys
from typing import Any, Sequence

from flyte_jupyter._internal.wire.proto import task_service_pb2 as task_pb
from flyte_jupyter.remote._common import _Bound, client_for, syncified_classmethod

_AUTO = ("latest", "current")


class syncified_method:
    """An async method offered as Flyte offers it: `task.fetch()` (sync) and `await task.fetch.aio()`."""

    def __init__(self, func: Any) -> None:
        self._func = func
        self.__doc__ = func.__doc__

    def __get__(self, instance: Any, owner: Any) -> Any:
        return self if instance is None else _Bound(self._func, instance)


class _RegisteredDefault:
    """A default the registration recorded but this process cannot decode (the action knows it)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text or "<registered default>"


async def _acall(make: Any) -> Any:
    from flyte_jupyter._internal.client.calls import acall

    return await acall(make)


def _not_found(exc: Any) -> Any:
    from flyte_jupyter.errors import RemoteTaskNotFoundError

    return RemoteTaskNotFoundError(exc.message)


class Task:
    """A registered task version (see the module docstring)."""

    def __init__(self, name: str, project: str | None = None, domain: str | None = None, version: str | None = None,
                 auto_version: str | None = None, *, details: task_pb.RegisteredTask | None = None,
                 client: Any = None) -> None:
        self._name = name
        self._project = project
        self._domain = domain
        self._version = version
        self._auto_version = auto_version
        self._details = details
        self._client = client
        self._interface: Any = None

    # -- finding ----------------------------------------------------------------------------------

    @classmethod
    def get(cls, name: str, project: str | None = None, domain: str | None = None, version: str | None = None,
            auto_version: str | None = None) -> "Task":
        """A reference to task `name` at `version` (or `auto_version` "latest" / "current"), in the
        project and domain (default: the configured ones). Lazy: read when first used."""
        if version == "latest" and auto_version is None:
            version, auto_version = None, "latest"
        if version is None and auto_version is None:
            raise ValueError(f"Task.get({name!r}) needs version=... or auto_version='latest' (the newest registered "
                             "version; 'current' inside a task: the running task's version)")
        if version is None and auto_version not in _AUTO:
            raise ValueError(f"auto_version must be 'latest' or 'current', not {auto_version!r}")
        return cls(name, project, domain, version, auto_version)

    @syncified_classmethod
    async def listall(cls: Any, by_task_name: str | None = None, project: str | None = None, domain: str | None = None,
                      limit: int = 100, latest_only: bool = False, **_filters: Any) -> list["Task"]:
        """Registered versions of the project and domain (only task `by_task_name`'s when given), by
        name and newest first; `latest_only`: the newest version of each task. The sync form returns
        an iterator."""
        client = client_for()
        found = await _acall(lambda: client.list_tasks(project=project, domain=domain, name=by_task_name,
                                                       limit=limit, latest_only=latest_only))
        return [cls(t.id.name, t.id.project, t.id.domain, t.id.version, details=t, client=client) for t in found]

    def _version_asked(self) -> str:
        if self._version is not None:
            return self._version
        if self._auto_version == "current":
            from flyte_jupyter._context import ctx

            current = ctx()
            if current is None or not getattr(current, "version", ""):
                raise ValueError(f"Task.get({self._name!r}, auto_version='current') is usable inside a running task "
                                 "only (it takes that task's version)")
            return str(current.version)
        return ""  # latest

    async def _load(self) -> task_pb.RegisteredTask:
        if self._details is None:
            from flyte_jupyter.errors import BackendError

            client = self._client or client_for()
            version = self._version_asked()
            try:
                details = await _acall(lambda: client.get_task(self._name, version, project=self._project,
                                                               domain=self._domain))
            except BackendError as exc:
                if exc.code == "NOT_FOUND":
                    raise _not_found(exc) from None
                raise
            self._client = client
            self._details = details
        return self._details

    @syncified_method
    async def fetch(self) -> "Task":
        """Read the registered version now (raises `flyte.errors.RemoteTaskNotFoundError` if there is
        none); returns the task."""
        await self._load()
        return self

    def _d(self) -> task_pb.RegisteredTask:
        if self._details is None:
            from flyte_jupyter._internal.controllers.base import run_sync

            run_sync(self._load)
        assert self._details is not None
        return self._details

    # -- what it is -------------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self._name

    @property
    def version(self) -> str:
        return self._d().id.version

    @property
    def project(self) -> str:
        return self._d().id.project

    @property
    def domain(self) -> str:
        return self._d().id.domain

    @property
    def digest(self) -> str:
        """sha256 of the registered spec."""
        return self._d().digest

    @property
    def created_at(self) -> float:
        return self._d().created_at

    @property
    def created_by(self) -> str:
        return self._d().created_by

    deployed_by = created_by

    @property
    def environment(self) -> str:
        return self._d().entry.spec.environment

    @property
    def task_type(self) -> str:
        return self._d().entry.spec.type or "python"

    @property
    def docs(self) -> str:
        return self._d().entry.docs

    @property
    def source_file(self) -> str:
        return self._d().entry.source_file

    @property
    def resources(self) -> dict[str, str]:
        r = self._d().entry.spec.resources
        return {k: v for k, v in (("cpu", r.cpu), ("memory", r.memory), ("gpu", r.gpu), ("disk", r.disk)) if v}

    @property
    def inputs(self) -> list[dict[str, Any]]:
        """The typed inputs as plain data (name, type, has_default, default as JSON text), for forms."""
        return [{"name": i.name, "type": i.type, "has_default": i.has_default, "default_json": i.default_json}
                for i in self._d().entry.inputs]

    @property
    def interface(self) -> Any:
        """The typed interface (`inputs`: name -> (type, default), `output`), with the types
        resolved here from what the registration recorded."""
        if self._interface is None:
            from flyte_jupyter._internal.deploy.typeexpr import resolve
            from flyte_jupyter._task import Interface

            entry = self._d().entry
            inputs: dict[str, tuple[Any, Any]] = {}
            for item in entry.inputs:
                tp = resolve(item.type)
                inputs[item.name] = (tp, self._default_of(item, tp) if item.has_default else inspect.Parameter.empty)
            output = resolve(entry.output_type) if entry.output_type else None
            self._interface = Interface(inputs=inputs, output=output)
        return self._interface

    @staticmethod
    def _default_of(item: task_pb.TaskInput, tp: Any) -> Any:
        if item.default:
            try:
                from flyte_jupyter._internal.types import from_literal
                from flyte_jupyter._internal.wire.proto import literals_pb2

                return from_literal(literals_pb2.Literal.FromString(item.default), tp)
            except Exception:  # noqa: BLE001 - a class this process does not have: the action decodes it
                pass
        return _RegisteredDefault(item.default_json)

    @property
    def required_args(self) -> tuple[str, ...]:
        return tuple(i.name for i in self._d().entry.inputs if not i.has_default)

    @property
    def default_input_args(self) -> tuple[str, ...]:
        return tuple(i.name for i in self._d().entry.inputs if i.has_default)

    def __repr__(self) -> str:
        if self._details is None:
            which = self._version if self._version is not None else self._auto_version
            return f"Task({self._name!r}, version={which!r}, not fetched yet)"
        d = self._details
        return f"Task({d.id.name!r}, version={d.id.version!r}, project={d.id.project!r}, domain={d.id.domain!r})"

    _deployed = True  # controllers submit it by reference

    def __getstate__(self) -> dict[str, Any]:
        """Picklable (a notebook task that calls a deployed task carries it in its bundle): without
        the client and its channel, and the interface, which is resolved again where it is used."""
        return {**self.__dict__, "_client": None, "_interface": None}

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """`await deployed(x=1)` inside a task on a backend: a child action that runs the registered code."""
        from flyte_jupyter._context import ctx
        from flyte_jupyter.errors import RemoteTaskUsageError

        tc = ctx()
        if tc is None or tc.controller is None:
            raise RemoteTaskUsageError(
                f"deployed task {self._name} was called outside of a task; start it as its own run with "
                "flyte.run(task, ...), or await it inside a task that runs on a backend")
        if tc.mode != "remote":
            raise RemoteTaskUsageError(
                f"deployed task {self._name} needs a backend: its registered code runs only there, and this task runs "
                "in local mode; run the calling task on a backend (flyte.init_from_config(...), then flyte.run), "
                "or start the deployed task as its own run with flyte.run(task, ...)")
        return await tc.controller.submit(self, args, kwargs)

    async def _details_via(self, client: Any) -> task_pb.RegisteredTask:
        """The registered version, read with `client` on the caller's own loop (a remote controller's)."""
        if self._details is None:
            from flyte_jupyter.errors import BackendError

            version = self._version_asked()
            try:
                self._details = await client.get_task(self._name, version, project=self._project, domain=self._domain)
            except BackendError as exc:
                if exc.code == "NOT_FOUND":
                    raise _not_found(exc) from None
                raise
        return self._details

    # -- running ----------------------------------------------------------------------------------

    def local_difference(self) -> str | None:
        """One line saying this process (or the file the task was deployed from) defines the task
        differently from the registered version; None when it does not, or nothing is known here."""
        from flyte_jupyter._internal.deploy.package import source_digest, source_digest_in_file

        d = self._d()
        registered = d.entry.source_digest
        if not registered:
            return None
        local = _local_task(d.id.name)
        where, digest = "", ""
        if local is not None:
            where, digest = "here", source_digest(local.func)
        elif d.entry.source_file and os.path.isfile(d.entry.source_file):
            where = d.entry.source_file
            digest = source_digest_in_file(d.entry.source_file, _function_name(d))
        if not digest or digest == registered:
            return None
        return (f"note: task {d.id.name} is defined differently {'in this process' if where == 'here' else 'in ' + where} "
                f"than its deployed version {d.id.version} in {d.id.project}/{d.id.domain}; running the deployed code "
                "(deploy again to run yours)")

    def _encode(self, args: tuple, kwargs: dict, offload_prefix: str | None,
                custom_context: dict[str, str] | None = None) -> tuple[bytes, str, str]:
        """(inputs.pb, full inputs hash, cache hash) for a run or a child: the values given,
        encoded as registered, plus the registered defaults of the inputs not given; a
        `custom_context` rides along outside both hashes, as for any child."""
        from flyte_jupyter._internal.types import Offloader, literal_map_hash, to_literal_map
        from flyte_jupyter._internal.wire.proto import literals_pb2
        from flyte_jupyter.errors import RemoteTaskUsageError

        d = self._d()
        names = [i.name for i in d.entry.inputs]
        if len(args) > len(names):
            raise TypeError(f"task {self._name} takes {len(names)} inputs, {len(args)} positional given")
        values = dict(zip(names, args))
        for key, value in kwargs.items():
            if key not in names:
                raise TypeError(f"task {self._name} has no input {key!r}; its inputs are {names}")
            if key in values:
                raise TypeError(f"task {self._name} got input {key!r} twice")
            values[key] = value
        missing = [i.name for i in d.entry.inputs if not i.has_default and i.name not in values]
        if missing:
            raise TypeError(f"task {self._name} is missing inputs {missing}")
        types = self.interface.input_types
        lm = to_literal_map(values, types, task=self._name,
                            offload=Offloader(offload_prefix) if offload_prefix else None)
        for item in d.entry.inputs:
            if item.name not in values and item.has_default:
                if not item.default:
                    raise RemoteTaskUsageError(
                        f"input {item.name!r} of deployed task {self._name} has a default the registration could "
                        "not record; give it a value")
                lm.literals[item.name].ParseFromString(item.default)
        full = literal_map_hash(lm)
        cache = d.entry.spec.cache
        cache_hash = ""
        if cache.enabled:
            kept = literals_pb2.LiteralMap()
            kept.CopyFrom(lm)
            for key in cache.ignored_inputs:
                if key in kept.literals:
                    del kept.literals[key]
            cache_hash = literal_map_hash(kept)
        if custom_context:
            from flyte_jupyter._internal.runtime.spec import CUSTOM_CONTEXT_KEY
            from flyte_jupyter._internal.types import to_literal

            lm.literals[CUSTOM_CONTEXT_KEY].CopyFrom(to_literal(dict(custom_context), dict[str, str]))
        return lm.SerializeToString(deterministic=True), full, cache_hash

    async def _submit_remote(self, options: Any, args: tuple, kwargs: dict) -> Any:
        """Start a run of this registered version with `options` (a `RunOptions`, already prepared
        for a remote submission) and return its RemoteRun at once: what `flyte.run(task, ...)` and
        `with_runcontext(...).run(task, ...)` call for a deployed task."""
        import asyncio

        from flyte_jupyter._internal.client.submit import storage_root_of
        from flyte_jupyter._internal.runtime import storage as _storage
        from flyte_jupyter.errors import RemoteTaskUsageError
        from flyte_jupyter.remote._run import RemoteRun

        if getattr(options, "mode", None) == "local":
            raise RemoteTaskUsageError(f"deployed task {self._name} runs on the backend only; drop mode='local'")
        d = await self._load()
        client = self._client
        storage_root = await _acall(lambda: storage_root_of(client))
        raw = options.raw_data_path or _storage.join(storage_root, "raw", "inputs")
        loop = asyncio.get_running_loop()
        data, _, cache_hash = await loop.run_in_executor(None, self._encode, args, kwargs, raw)
        note = await loop.run_in_executor(None, self.local_difference)
        if note:
            print(note, file=sys.stderr, flush=True)
        labels = dict(options.labels or {})
        if getattr(options, "source", None):
            labels.setdefault("source", options.source)
        summary = await _acall(lambda: client.create_run_of_registered(
            d.id.name, d.id.version, inputs=data, inputs_hash=cache_hash, run_name=options.name or "",
            project=d.id.project, domain=d.id.domain, overwrite_cache=options.overwrite_cache,
            env_vars=dict(options.env_vars or {}), labels=labels, raw_data_path=options.raw_data_path or ""))
        return RemoteRun(summary.name, self, client, summary.project, summary.domain, summary.url)


def _function_name(d: task_pb.RegisteredTask) -> str:
    args = list(d.entry.spec.args)
    if "--module-name" in args[:-1] and "--task-name" in args[:-1]:
        return args[args.index("--task-name") + 1]
    return d.id.name.split(".", 1)[-1]


def _user_module(name: str, module: Any, site_dirs: Sequence[str]) -> bool:
    if name == "__main__":
        return True
    if name.split(".", 1)[0] == "flyte_jupyter":
        return False
    file = getattr(module, "__file__", None)
    if not file:
        return False
    real = os.path.realpath(file)
    return not any(real.startswith(d + os.sep) for d in site_dirs)


def _local_task(name: str) -> Any:
    """A task of that name this process defines (in __main__ or a module of its own code), or None."""
    from flyte_jupyter._internal.runtime.bundle import _site_dirs
    from flyte_jupyter._task import TaskTemplate

    site_dirs = _site_dirs()
    for module_name, module in list(sys.modules.items()):
        if module is None or not _user_module(module_name, module, site_dirs):
            continue
        for value in list(vars(module).values()):
            if isinstance(value, TaskTemplate) and value.name == name:
                return value
    return None


__all__ = ["Task"]

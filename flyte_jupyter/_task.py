"""TaskTemplate: what `@env.task` makes of a function.

Calling a task outside of a run calls the function (handy in a notebook); inside a run it hands the
call to the current controller, which turns it into a child action.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import textwrap
import typing
from typing import Any, Callable

from flyte_jupyter._context import ctx
from flyte_jupyter._internal.runtime.code_digest import code_text as _code_text
from flyte_jupyter._resources import (
    Cache,
    Resources,
    RetryStrategy,
    Timeout,
    as_cache,
    as_retries,
    as_timeout,
)

_NO_DEFAULT = inspect.Parameter.empty


@dataclasses.dataclass(frozen=True)
class Interface:
    """Typed inputs (name -> (type, default)) and the output type of a task."""

    inputs: dict[str, tuple[Any, Any]]
    output: Any

    @property
    def input_types(self) -> dict[str, Any]:
        return {name: t for name, (t, _) in self.inputs.items()}

    @property
    def has_output(self) -> bool:
        return self.output is not None and self.output is not type(None)


def _interface_of(func: Callable) -> Interface:
    try:
        hints = typing.get_type_hints(func, include_extras=True)
    except Exception:  # forward references that cannot be resolved yet: fall back to the raw annotations
        hints = dict(getattr(func, "__annotations__", {}))
    sig = inspect.signature(func)
    inputs: dict[str, tuple[Any, Any]] = {}
    for name, param in sig.parameters.items():
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            raise TypeError(f"task {func.__qualname__} takes *{name}: tasks need named, typed parameters")
        inputs[name] = (hints.get(name, Any), param.default)
    output = hints.get("return", Any) if sig.return_annotation is not inspect.Signature.empty else Any
    if output is type(None):
        output = None
    return Interface(inputs=inputs, output=output)


def _source_of(func: Callable) -> str:
    """The function's source without its decorators, so changing `retries=` keeps the cache valid."""
    try:
        lines = textwrap.dedent(inspect.getsource(func)).splitlines()
    except (OSError, TypeError):
        return _code_text(func.__code__)
    while lines and lines[0].lstrip().startswith("@"):
        lines.pop(0)
    return "\n".join(lines)




def _as_tuple(value: Any) -> tuple:
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,) if value else ()


class TaskTemplate:
    """A task: a function plus the policies its actions run under."""

    task_type = "python"

    def __init__(
        self,
        func: Callable,
        env: Any,
        *,
        short_name: str | None = None,
        cache: Cache | str | bool | None = None,
        retries: RetryStrategy | int = 0,
        timeout: Timeout | int | float | Any = None,
        docs: str | None = None,
        pod_template: Any = None,  # a flyte.PodTemplate (or the name of one on the cluster)
        report: bool = False,
        interruptible: bool | None = None,
        max_inline_io_bytes: int = 10 * 1024 * 1024,
        queue: str | None = None,
        resources: Resources | None = None,
        env_vars: dict[str, str] | None = None,
        secrets: Any = None,
        reusable: Any = None,
        entrypoint: bool = False,
        service_account: str | None = None,
        triggers: Any = (),
        links: Any = (),
        task_resolver: Any = None,
        produces_artifacts: bool = False,
        **unknown: Any,
    ) -> None:
        if unknown:
            raise TypeError(f"@env.task got unknown options {sorted(unknown)}")
        if not callable(func):
            raise TypeError(f"@env.task decorates a function, got {type(func).__name__}")
        self.func = func
        self.env = env
        self.short_name = short_name or func.__name__
        self.name = f"{env.name}.{func.__name__}"
        self.cache = as_cache(cache) if cache is not None else env.cache
        self.retries = as_retries(retries)
        self.timeout = as_timeout(timeout)
        self.docs = docs or inspect.getdoc(func)
        self.pod_template = pod_template if pod_template is not None else env.pod_template
        self.report = report
        self.interruptible = env.interruptible if interruptible is None else interruptible
        self.max_inline_io_bytes = max_inline_io_bytes
        self.queue = queue or env.queue
        self.resources = resources if resources is not None else env.resources
        self.env_vars = {**(env.env_vars or {}), **(env_vars or {})}
        self.secrets = secrets if secrets is not None else env.secrets
        self.reusable = reusable if reusable is not None else env.reusable
        self.entrypoint = bool(entrypoint)  # a hint for views (Flyte: for the UI); runs are the same
        self.service_account = service_account or getattr(env, "service_account", None)
        self.triggers = _as_tuple(triggers)  # registered by `flyte.deploy`; the backend's scheduler fires them
        self.links = _as_tuple(links)
        self.task_resolver = task_resolver
        self.produces_artifacts = bool(produces_artifacts)
        self.is_async = inspect.iscoroutinefunction(func)
        functools.update_wrapper(self, func)

    # -- static facts -------------------------------------------------------------------------

    @functools.cached_property
    def interface(self) -> Interface:
        return _interface_of(self.func)

    @functools.cached_property
    def _source_hash(self) -> str:
        return hashlib.sha256(_source_of(self.func).encode()).hexdigest()

    def cache_version(self) -> str:
        """Version under which outputs are memoized: the override, else a hash of the body and salt."""
        if self.cache.version_override:
            return self.cache.version_override
        return hashlib.sha256(f"{self._source_hash}\0{self.cache.salt}".encode()).hexdigest()[:32]

    @property
    def image(self) -> Any:
        return self.env.image

    def custom_config(self, sctx: Any) -> dict[str, Any]:
        """The task type's own config, carried in the spec's `custom` JSON (plugins override it)."""
        return {}

    def bind(self, args: tuple, kwargs: dict) -> dict[str, Any]:
        """Map a call's arguments onto the declared inputs, with defaults, or say what is wrong."""
        params = self.interface.inputs
        if len(args) > len(params):
            raise TypeError(f"task {self.name} takes {len(params)} inputs, {len(args)} positional given")
        values = dict(zip(params, args))
        for key, value in kwargs.items():
            if key not in params:
                raise TypeError(f"task {self.name} has no input {key!r}; its inputs are {list(params)}")
            if key in values:
                raise TypeError(f"task {self.name} got input {key!r} twice")
            values[key] = value
        for key, (_, default) in params.items():
            if key not in values:
                if default is _NO_DEFAULT:
                    raise TypeError(f"task {self.name} is missing input {key!r}")
                values[key] = default
        return values

    # -- calling ------------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Call the function body directly, in this process, with no action, controller or type
        checks (an async body returns its coroutine, for the caller to await), as in Flyte."""
        return self.func(*args, **kwargs)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        tc = ctx()
        if tc is None or tc.controller is None:
            return self.forward(*args, **kwargs)
        if self.is_async:
            return tc.controller.submit(self, args, kwargs)
        return tc.controller.submit_sync(self, args, kwargs)

    async def aio(self, *args: Any, **kwargs: Any) -> Any:
        """Await any task, sync or async, from async code."""
        tc = ctx()
        if tc is not None and tc.controller is not None:
            return await tc.controller.submit(self, args, kwargs)
        if self.is_async:
            return await self.func(*args, **kwargs)
        import asyncio

        return await asyncio.to_thread(self.func, *args, **kwargs)

    async def execute(self, **inputs: Any) -> Any:
        """Run the body once with already-bound inputs; sync bodies go to a worker thread."""
        if self.is_async:
            return await self.func(**inputs)
        import asyncio  # imported on first execution: declaring tasks stays cheap

        return await asyncio.to_thread(self.func, **inputs)

    def override(self, **changes: Any) -> "TaskTemplate":
        """A copy of this task with some options changed, e.g. `.override(retries=3)`."""
        allowed = {
            "short_name", "resources", "cache", "retries", "timeout", "reusable", "env_vars",
            "secrets", "pod_template", "queue", "interruptible", "max_inline_io_bytes", "report", "docs",
            "entrypoint", "service_account", "links",
        }
        bad = set(changes) - allowed
        if bad:
            raise TypeError(f"override() does not take {sorted(bad)}; it takes {sorted(allowed)}")
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        converters = {"cache": as_cache, "retries": as_retries, "timeout": as_timeout}
        for key, value in changes.items():
            if key == "env_vars":
                value = {**self.env_vars, **(value or {})}
            setattr(new, key, converters.get(key, lambda v: v)(value))
        new.__dict__.pop("_source_hash", None)
        return new

    def __repr__(self) -> str:
        return f"TaskTemplate({self.name})"

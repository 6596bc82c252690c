"""flyte-jupyter: Flyte-style tasks in a notebook, every call an isolated action.

The public API follows Flyte 2's `flyte` package name for name, so `import flyte_jupyter as flyte`
runs notebooks written for Flyte 2. Names are resolved on first use, which keeps `import
flyte_jupyter` cheap: a kernel pays only for what a cell actually calls.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, tuple[str, str | None]] = {  # attr None: the module itself
    "TaskEnvironment": ("._environment", "TaskEnvironment"),
    "Resources": ("._resources", "Resources"),
    "Cache": ("._resources", "Cache"),
    "RetryStrategy": ("._resources", "RetryStrategy"),
    "Timeout": ("._resources", "Timeout"),
    "ReusePolicy": ("._resources", "ReusePolicy"),
    "Secret": ("._resources", "Secret"),
    "Backoff": ("._resources", "Backoff"),
    "PodTemplate": ("._resources", "PodTemplate"),
    "TimeoutType": ("._resources", "TimeoutType"),
    "Trigger": ("._trigger", "Trigger"),
    "Cron": ("._trigger", "Cron"),
    "FixedRate": ("._trigger", "FixedRate"),
    "TriggerTime": ("._trigger", "TriggerTime"),
    "init": ("._config", "init"),
    "init_from_config": ("._config", "init_from_config"),
    "run": ("._run", "run"),
    "with_runcontext": ("._run", "with_runcontext"),
    "rerun": ("._run", "rerun"),
    "deploy": ("._deploy", "deploy"),
    "build_images": ("._deploy", "build_images"),
    "Run": ("._run", "Run"),
    "ctx": ("._context", "ctx"),
    "custom_context": ("._context", "custom_context"),
    "get_custom_context": ("._context", "get_custom_context"),
    "current_project": ("._context", "current_project"),
    "current_domain": ("._context", "current_domain"),
    "logger": ("._logging", "logger"),
    "map": ("._map", "map"),
    "group": ("._group", "group"),
    "trace": ("._trace", "trace"),
    "report": (".report", None),
    "Image": ("._image", "Image"),
    "Phase": ("._internal.wire.models", "Phase"),
    "ActionInfo": ("._internal.wire.models", "ActionInfo"),
    "ActionFailedError": (".errors", "ActionFailedError"),
    "TaskTemplate": ("._task", "TaskTemplate"),
    "io": (".io", None),
    "extras": (".extras", None),
    "errors": (".errors", None),
    "storage": (".storage", None),
    "durable": (".durable", None),
    "remote": (".remote", None),
    "extend": (".extend", None),
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    try:
        module_name, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'flyte_jupyter' has no attribute {name!r}") from None
    module = importlib.import_module(module_name, __name__)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value


def version() -> str:
    """The flyte-jupyter version (Flyte 2's `flyte.version()`)."""
    return __version__


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def load_ipython_extension(ipython: Any) -> None:
    """`%load_ext flyte_jupyter`: registers the `%flyte` / `%%flyte` magics and the run views."""
    ext = importlib.import_module(".kernel", __name__)
    ext.load_ipython_extension(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    ext = importlib.import_module(".kernel", __name__)
    if hasattr(ext, "unload_ipython_extension"):
        ext.unload_ipython_extension(ipython)


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    """Jupyter Server finds the extension app in `flyte_jupyter.server_ext` (which names the class)."""
    return [{"module": "flyte_jupyter.server_ext"}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    """The prebuilt side panel: `src` inside this package, `dest` the npm package's name, which is
    also where the wheel installs it (share/jupyter/labextensions/@flyte-jupyter/labextension)."""
    return [{"src": "labextension", "dest": "@flyte-jupyter/labextension"}]


if TYPE_CHECKING:  # for type checkers and IDEs; at run time names load lazily
    from flyte_jupyter import durable, errors, io, remote, report, storage
    from flyte_jupyter._config import init, init_from_config
    from flyte_jupyter._context import (
        ctx,
        current_domain,
        current_project,
        custom_context,
        get_custom_context,
    )
    from flyte_jupyter._deploy import build_images, deploy
    from flyte_jupyter._environment import TaskEnvironment
    from flyte_jupyter._group import group
    from flyte_jupyter._image import Image
    from flyte_jupyter._internal.wire.models import ActionInfo, Phase
    from flyte_jupyter._logging import logger
    from flyte_jupyter._map import map
    from flyte_jupyter._resources import (
        Backoff,
        Cache,
        PodTemplate,
        Resources,
        RetryStrategy,
        ReusePolicy,
        Secret,
        Timeout,
        TimeoutType,
    )
    from flyte_jupyter._run import Run, rerun, run, with_runcontext
    from flyte_jupyter._task import TaskTemplate
    from flyte_jupyter._trace import trace
    from flyte_jupyter._trigger import Cron, FixedRate, Trigger, TriggerTime
    from flyte_jupyter.errors import ActionFailedError

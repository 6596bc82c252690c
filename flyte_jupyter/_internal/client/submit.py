"""Submitting a run to a backend: what `flyte.run` / `with_runcontext(mode="remote")` call.

Resolve the images, build and upload the code bundle (once per content), encode the inputs,
CreateRun, and return a `RemoteRun` at once (it follows the run live; see `flyte_jupyter.remote`).
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

from flyte_jupyter import _config
from flyte_jupyter._internal.client.calls import acall, call
from flyte_jupyter._internal.client.grpc_client import BackendClient
from flyte_jupyter._internal.client.resolve import resolve_client
from flyte_jupyter.remote._run import RemoteRun

_storage_roots: dict[tuple, str] = {}


async def storage_root_of(client: BackendClient) -> str:
    key = (client.endpoint, client.token)
    if key not in _storage_roots:
        _storage_roots[key] = (await client.status())["storage_root"]
    return _storage_roots[key]


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
    from flyte_jupyter._internal.runtime import storage as _storage
    from flyte_jupyter._internal.runtime.bundle import build_bundle
    from flyte_jupyter._internal.runtime.spec import (
        CodeRef,
        encode_inputs,
        task_spec,
        version_for,
    )

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
    source = getattr(options, "source", None) or script_source()
    if source:
        labels.setdefault("source", source)
    request = dict(task=spec, inputs=data, inputs_hash=cache_hash if task.cache.enabled else "",
                   run_name=options.name or "", project=project, domain=domain,
                   overwrite_cache=options.overwrite_cache, env_vars=dict(options.env_vars or {}), labels=labels,
                   raw_data_path=options.raw_data_path or "")
    recover_from = getattr(options, "recover_from", None)
    if recover_from:  # a resume: this code, recovering what the earlier run finished with the same code
        from flyte_jupyter._internal.client.rerun import rerun_request

        request["rerun"] = rerun_request(recover_from, "a0", True, getattr(options, "force_rerun_actions", ()))
    return request


def script_source() -> str | None:
    """The script this process runs (`python script.py`), as a run's `source` label: the absolute
    path of `__main__` when it is a file run as a script; None under `python -m`, in IPython and
    Jupyter kernels (they label their runs themselves) and in an interactive interpreter."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py") or getattr(main, "__spec__", None) is not None:
        return None
    if "IPython" in sys.modules and getattr(sys.modules["IPython"], "get_ipython", lambda: None)() is not None:
        return None
    return os.path.abspath(path)


async def submit_run(options: Any, task: Any, args: tuple, kwargs: dict) -> RemoteRun:
    """Start `task(*args, **kwargs)` on the backend and return its RemoteRun (not waiting)."""
    client = resolve_client()
    storage_root = await acall(lambda: storage_root_of(client))
    loop = asyncio.get_running_loop()
    request = await loop.run_in_executor(None, prepare, options, task, args, kwargs, storage_root)
    summary = await acall(lambda: client.create_run(**request))
    return RemoteRun(summary.name, task, client, summary.project, summary.domain, summary.url)


def submit_run_sync(options: Any, task: Any, args: tuple, kwargs: dict) -> RemoteRun:
    """`submit_run` for sync callers: built in the caller's thread, sent over the process's one
    backend loop and channel, with no event loop or thread of its own (a trivial run's submit
    costs one crossing to that loop once the storage root is known)."""
    client = resolve_client()
    storage_root = _storage_roots.get((client.endpoint, client.token)) or call(lambda: storage_root_of(client))
    request = prepare(options, task, args, kwargs, storage_root)
    summary = call(lambda: client.create_run(**request))
    return RemoteRun(summary.name, task, client, summary.project, summary.domain, summary.url)


__all__ = ["prepare", "storage_root_of", "submit_run", "submit_run_sync"]

"""From a TaskTemplate to the TaskSpec message the backend runs, and to the inputs it reads.

The spec's `args` are the entrypoint's arguments with the backend's template variables, so one
registered spec serves every action of the task:

    a0 --inputs {{.input}} --outputs-path {{.outputPrefix}} --version V
       --raw-data-path {{.rawOutputDataPrefix}} --run-name {{.runName}} --name {{.actionName}}
       --image-cache B64 --tgz URI --dest . --resolver R --module-name M --task-name T
    (or ... --pkl URI --task-name T for a pickle bundle)

A child's custom context (`flyte.custom_context(...)`) travels in its inputs.pb under the reserved
name `CUSTOM_CONTEXT_KEY`, added after the inputs hash is taken (so names and cache keys do not
depend on it); a run's own (`with_runcontext(custom_context=...)`) travels in its environment as
`CUSTOM_CONTEXT_ENV`, JSON.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

from flyte_jupyter._internal.wire.proto import common_pb2 as pb

CUSTOM_CONTEXT_KEY = "_flyte_custom_context"
CUSTOM_CONTEXT_ENV = "FLYTE_JUPYTER_CUSTOM_CONTEXT"

_ARG_TEMPLATE = [
    "a0",
    "--inputs", "{{.input}}",
    "--outputs-path", "{{.outputPrefix}}",
    "--version", "{{.version}}",
    "--raw-data-path", "{{.rawOutputDataPrefix}}",
    "--run-name", "{{.runName}}",
    "--name", "{{.actionName}}",
]


@dataclasses.dataclass(frozen=True)
class SerializationContext:
    """What a task plugin's `custom_config(sctx)` may read: where and under which version the task
    is being serialized (Flyte 2's SerializationContext, in small)."""

    project: str = ""
    domain: str = ""
    version: str = ""
    image: str = ""


@dataclasses.dataclass(frozen=True)
class CodeRef:
    """How the actions of one run load code: shared by the root and every child spec."""

    kind: str  # "tgz" or "pkl"
    uri: str
    version: str
    image_cache: str = ""
    resolver: str = "flyte_jupyter._internal.runtime.bundle.DefaultResolver"
    task_names: tuple[str, ...] = ()  # pkl: the tasks the bundle holds


def version_for(bundle_digest: str, image_cache: str) -> str:
    """A version that changes exactly when the code or the images change."""
    return hashlib.sha256(f"{bundle_digest}\0{image_cache}".encode()).hexdigest()[:20]


def loader_args(task: Any, code: CodeRef) -> list[str]:
    if code.kind == "pkl":
        return ["--pkl", code.uri, "--task-name", task.name]
    return ["--tgz", code.uri, "--dest", ".", "--resolver", code.resolver,
            "--module-name", task.func.__module__, "--task-name", task.func.__name__]


def _quantity(value: Any) -> str:
    """The limit of a Resources value: the quantity, or the second of a (request, limit) pair."""
    if value is None:
        return ""
    if isinstance(value, tuple):
        value = value[-1]
    return "" if value is None else str(value)


def _request(value: Any) -> str:
    """The request of a (request, limit) pair; "" for a single quantity (its request is its limit)."""
    return "" if not isinstance(value, tuple) or value[0] is None else str(value[0])


def _type_name(tp: Any) -> str:
    return getattr(tp, "__qualname__", None) or repr(tp)


def task_spec(task: Any, code: CodeRef, project: str, domain: str, image: str = "") -> pb.TaskSpec:
    """The TaskSpec of `task` under the run's code and version (deterministic: same task, same bytes)."""
    args = list(_ARG_TEMPLATE)
    if code.image_cache:
        args += ["--image-cache", code.image_cache]
    args += loader_args(task, code)
    res = task.resources
    resources, requests = pb.Resources(), pb.Resources()
    if res is not None:
        resources = pb.Resources(cpu=_quantity(res.cpu), memory=_quantity(res.memory), gpu=_quantity(res.gpu),
                                 disk=_quantity(res.disk))
        requests = pb.Resources(cpu=_request(res.cpu), memory=_request(res.memory), gpu=_request(res.gpu),
                                disk=_request(res.disk))
    if task.timeout is not None and task.timeout.deadline_seconds:
        from flyte_jupyter.errors import NotSupportedHereError

        raise NotSupportedHereError(
            f"task {task.name} has Timeout(deadline=...): the backend does not enforce a deadline across "
            "attempts yet (only max_runtime and max_queued_time, per attempt); run it in local mode, or use "
            "max_runtime with retries instead")
    retries = task.retries
    backoff, factor, max_backoff = retries._policy()
    iface = pb.TaskInterface(output_type=_type_name(task.interface.output) if task.interface.has_output else "")
    import inspect

    for name, (tp, default) in task.interface.inputs.items():
        iface.inputs.add(name=name, type=_type_name(tp), has_default=default is not inspect.Parameter.empty)
    spec = pb.TaskSpec(
        id=pb.TaskIdentifier(project=project, domain=domain, name=task.name, version=code.version),
        type=getattr(task, "task_type", "python") or "python",
        interface=iface,
        resources=resources,
        retries=pb.RetryStrategy(count=retries.count, backoff_seconds=backoff, backoff_factor=factor,
                                 max_backoff_seconds=max_backoff),
        timeout_seconds=(task.timeout.runtime_seconds or 0) if task.timeout else 0,
        max_queued_seconds=(task.timeout.queued_seconds or 0) if task.timeout else 0,
        cache=pb.CacheSpec(enabled=task.cache.enabled,
                           version=task.cache_version() if task.cache.enabled else "",
                           serialize=task.cache.serialize, ignored_inputs=list(task.cache.ignored_inputs)),
        args=args,
        env=dict(sorted((task.env_vars or {}).items())),
        image=image,
        environment=getattr(task.env, "name", ""),
        interruptible=bool(task.interruptible),
        code_digest=_code_digest(task),
    )
    if requests.ListFields():  # only pairs set it: a task of single quantities keeps the same bytes
        spec.requests.CopyFrom(requests)
    custom = dict(task.custom_config(SerializationContext(project, domain, code.version, image)) or {})
    pod_template = _pod_template_dict(getattr(task, "pod_template", None))
    if pod_template is not None:
        custom["pod_template"] = pod_template
    if custom:
        spec.custom_json = json.dumps(custom, sort_keys=True, default=str)
    spec.secrets.extend(secret_requests(getattr(task, "secrets", None)))
    reuse = task.reusable
    if reuse is not None:
        replicas = reuse.replicas[-1] if isinstance(reuse.replicas, tuple) else reuse.replicas
        ttl = reuse.idle_ttl.total_seconds() if hasattr(reuse.idle_ttl, "total_seconds") else float(reuse.idle_ttl)
        # Several actions at once in one worker only for async tasks (they share its event loop);
        # a sync task's actions run one at a time.
        concurrency = reuse.concurrency if getattr(task, "is_async", False) else 1
        spec.reuse.CopyFrom(pb.ReuseSpec(replicas=int(replicas), idle_ttl_seconds=ttl, concurrency=concurrency))
    return spec


def secret_requests(secrets: Any) -> list[pb.SecretRequest]:
    """A task's declared secrets as the spec carries them: names and delivery, never values."""
    from flyte_jupyter._internal.runtime.secret_names import env_var_for, secret_list, stored_name

    out = []
    for item in secret_list(secrets):
        stored_name(item.key, item.group)
        env_var_for(item.key, item.group, item.as_env_var)
        out.append(pb.SecretRequest(key=item.key, group=item.group or "", mount=str(item.mount or ""),
                                    as_env_var=item.as_env_var or ""))
    return out


def _code_digest(task: Any) -> str:
    """The task's code as a digest: its own source and the module code it reaches
    (`runtime/code_digest`); a resumed run recovers an action only when this is unchanged."""
    from flyte_jupyter._internal.runtime.code_digest import code_digest

    source = getattr(task, "_source_hash", "")
    func = getattr(task, "func", None)
    if not isinstance(source, str) or not source:
        return ""
    return code_digest(func, source) if callable(func) else source[:32]


def _pod_template_dict(template: Any) -> dict[str, Any] | None:
    """A task's pod template as the JSON the Kubernetes executor reads (`custom["pod_template"]`)."""
    if template is None:
        return None
    if isinstance(template, str):  # the name of a pod template on the cluster
        return {"name": template}
    if isinstance(template, dict):
        return dict(template)
    to_dict = getattr(template, "to_dict", None)
    if to_dict is None:
        raise TypeError(f"pod_template must be a flyte.PodTemplate, a dict or a name, not {type(template).__name__}")
    return to_dict()


def encode_inputs(task: Any, inputs: dict[str, Any], offload_prefix: str | None,
                  custom_context: dict[str, str] | None = None) -> tuple[bytes, str, str]:
    """(inputs.pb bytes, full inputs hash for the child name, cache hash without ignored inputs);
    a non-empty `custom_context` rides along under CUSTOM_CONTEXT_KEY, outside both hashes."""
    from flyte_jupyter._internal.types import (
        Offloader,
        literal_map_hash,
        to_literal_map,
    )

    offload = Offloader(offload_prefix, task.max_inline_io_bytes) if offload_prefix else None
    lm = to_literal_map(inputs, task.interface.input_types, task=task.name, offload=offload)
    full = literal_map_hash(lm)
    cache_hash = full
    ignored = set(task.cache.ignored_inputs or ())
    if ignored:
        for key in ignored:
            if key in lm.literals:
                del lm.literals[key]
        cache_hash = literal_map_hash(lm)
        lm = to_literal_map(inputs, task.interface.input_types, task=task.name, offload=offload)
    if custom_context:
        from flyte_jupyter._internal.types import to_literal

        lm.literals[CUSTOM_CONTEXT_KEY].CopyFrom(to_literal(dict(custom_context), dict[str, str]))
    return lm.SerializeToString(deterministic=True), full, cache_hash


def name_hash_of_inputs(data: bytes) -> str:
    """The full inputs hash a child's name is made from (`encode_inputs`' second value), from the
    inputs.pb bytes it was sent with: the backend re-derives names with it when a rerun is rooted
    at a child (the record keeps only the cache hash)."""
    from flyte_jupyter._internal.types import literal_map_hash
    from flyte_jupyter._internal.wire.proto import literals_pb2

    lm = literals_pb2.LiteralMap.FromString(data)
    if CUSTOM_CONTEXT_KEY in lm.literals:
        del lm.literals[CUSTOM_CONTEXT_KEY]
    return literal_map_hash(lm)


def decode_output(task: Any, data: bytes) -> Any:
    """The task's return value from outputs.pb (a LiteralMap with the value under "o0")."""
    from flyte_jupyter._internal.types import from_literal
    from flyte_jupyter._internal.wire.proto import literals_pb2

    lm = literals_pb2.LiteralMap.FromString(data)
    if "o0" not in lm.literals:
        return None
    return from_literal(lm.literals["o0"], task.interface.output if task is not None else Any)

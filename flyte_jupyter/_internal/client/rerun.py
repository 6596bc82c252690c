"""`flyte.rerun` on a backend: replay an earlier run (or one action of it) from what it recorded.

The backend holds the source action's task spec (code bundle, image, version) and inputs; this
module only sends new inputs merged into the recorded ones. They are encoded against the types
of the recorded task's interface (kept as text in its spec, read back without eval), so a new value
is checked exactly as the task's own call would check it.
"""

from __future__ import annotations

import types
from typing import Any, Iterable

from flyte_jupyter._internal.client.grpc_client import BackendClient
from flyte_jupyter._internal.wire.proto import common_pb2 as pb
from flyte_jupyter._internal.wire.proto import run_service_pb2 as run_pb


def interface_types(spec: pb.TaskSpec) -> dict[str, Any]:
    """The recorded task's input types by name (`Any` where a type is not known here)."""
    from flyte_jupyter._internal.deploy.typeexpr import resolve

    return {v.name: resolve(v.type) for v in spec.interface.inputs}


def as_task(spec: pb.TaskSpec) -> Any:
    """A stand-in with the `name` and `interface.inputs` that `parse_task_inputs` reads (the CLI's
    `--INPUT value` words for a recorded task)."""
    inputs = {name: (tp, None) for name, tp in interface_types(spec).items()}
    return types.SimpleNamespace(name=spec.id.name, interface=types.SimpleNamespace(inputs=inputs))


def merged_inputs(spec: pb.TaskSpec, recorded: bytes, new: dict[str, Any]) -> tuple[bytes, str]:
    """(the recorded inputs with `new` values in place, their hash): a value for an input the task
    does not have is refused, naming the inputs it has."""
    from flyte_jupyter._internal.types import literal_map_hash, to_literal
    from flyte_jupyter._internal.wire.proto import literals_pb2

    known = interface_types(spec)
    unknown = sorted(set(new) - set(known))
    if unknown:
        raise TypeError(f"task {spec.id.name} has no input {', '.join(map(repr, unknown))}; "
                        f"its inputs are {sorted(known)}")
    lm = literals_pb2.LiteralMap.FromString(recorded) if recorded else literals_pb2.LiteralMap()
    for name, value in new.items():
        lm.literals[name].CopyFrom(to_literal(value, known[name], name=name, task=spec.id.name, convert=True))
    return lm.SerializeToString(deterministic=True), literal_map_hash(lm)


def rerun_request(run_name: str, action_name: str, recover: bool,
                  force_rerun_actions: Iterable[str] | None) -> run_pb.RerunSource:
    if isinstance(force_rerun_actions, str):
        force_rerun_actions = [force_rerun_actions]
    return run_pb.RerunSource(run=run_name, action=action_name or "a0", recover=bool(recover),
                              force_rerun_actions=list(force_rerun_actions or ()))


async def submit_rerun(client: BackendClient, options: Any, run_name: str, action_name: str = "a0",
                       recover: bool = False, force_rerun_actions: Iterable[str] | None = None,
                       inputs: dict[str, Any] | None = None) -> Any:
    """CreateRun for a rerun; returns the new run's RunSummary."""
    source = rerun_request(run_name, action_name, recover, force_rerun_actions)
    data, digest = b"", ""
    if inputs:
        _, spec, recorded = await client.get_action_spec(run_name, source.action, with_inputs=True,
                                                         project=options.project, domain=options.domain)
        data, digest = merged_inputs(spec, recorded, inputs)
    return await client.create_run(
        None, inputs=data, inputs_hash=digest, run_name=options.name or "", project=options.project,
        domain=options.domain, overwrite_cache=options.overwrite_cache, env_vars=dict(options.env_vars or {}),
        labels=dict(options.labels or {}), raw_data_path=options.raw_data_path or "", rerun=source)


__all__ = ["as_task", "interface_types", "merged_inputs", "rerun_request", "submit_rerun"]
